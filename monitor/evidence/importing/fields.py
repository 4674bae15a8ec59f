"""Cell parsers shared by the formats: each returns a value or raises ValueError with the reason."""

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator


def text(value, max_length=None, required=False):
    value = (value or "").strip()
    if required and not value:
        raise ValueError("is required")
    if max_length is not None and len(value) > max_length:
        raise ValueError(f"is {len(value)} characters long; the most is {max_length}")
    return value


def whole_number(value, minimum=0, maximum=None):
    """None for an empty cell; an int at least `minimum`. "3.0" is accepted (spreadsheets write it)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError(f"must be a whole number, got {value!r}")
    if isinstance(value, float):
        number = value
    elif isinstance(value, int):
        number = value
    else:
        try:
            number = float(str(value).strip())
        except ValueError:
            raise ValueError(f"must be a whole number, got “{value}”") from None
    if number != int(number):
        raise ValueError(f"must be a whole number, got “{value}”")
    number = int(number)
    if number < minimum:
        raise ValueError(f"must be {minimum} or more, got {number}")
    if maximum is not None and number > maximum:
        raise ValueError(f"must be {maximum} or less, got {number}")
    return number


def number(value):
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError(f"must be a number, got {value!r}")
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"must be a number, got “{value}”") from None
    if result != result or result in (float("inf"), float("-inf")):
        raise ValueError(f"must be a finite number, got “{value}”")
    return result


def choice(value, choices, default=None):
    value = (value or "").strip()
    if not value:
        if default is None:
            raise ValueError("is required")
        return default
    known = [c for c, _label in choices]
    if value not in known:
        raise ValueError(f"must be one of {', '.join(known)}, got “{value}”")
    return value


_url = URLValidator()


def url(value, max_length=1000):
    value = text(value, max_length)
    if value:
        try:
            _url(value)
        except ValidationError:
            raise ValueError(f"is not a web address: “{value}”") from None
    return value
