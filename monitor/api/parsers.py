"""JSON bodies held to what a field can store, with the field named in the 400."""

from rest_framework import serializers
from rest_framework.parsers import JSONParser

from monitor.security import unholdable


def _problems(value, path=""):
    if isinstance(value, str):
        problem = unholdable(value)
        return [(path, problem)] if problem else []
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            key_problem = unholdable(str(key))
            if key_problem:
                found.append((path or "non_field_errors", f"a field name {key_problem}"))
            found += _problems(item, f"{path}.{key}" if path else str(key))
        return found
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _problems(item, f"{path}[{i}]" if path else f"[{i}]")]
    return []


class StrictJSONParser(JSONParser):
    """JSONParser, then a 400 for any string no text column can hold (a NUL byte, a lone surrogate).

    Python's json module turns the escapes \\u0000 and \\ud800 into such strings without complaint,
    and PostgreSQL or the UTF-8 encoder would then fail deep in a save: a 500 for the client.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        found = _problems(data)
        if found:
            errors = {}
            for field, problem in found:
                errors.setdefault(field or "non_field_errors", []).append(f"This value {problem}.")
            raise serializers.ValidationError(errors)
        return data
