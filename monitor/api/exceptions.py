"""The API's errors are JSON, also where Django, not DRF, refuses a request."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler


def api_exception_handler(exc, context):
    # Django raises RequestDataTooBig when DRF first reads request.body; left to Django, it would be
    # an HTML 400 page with no word on the limit.
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(
            {"detail": f"The request body is larger than the {limit} bytes this API accepts; send a smaller body."},
            status=status.HTTP_400_BAD_REQUEST,
        )
    return exception_handler(exc, context)
