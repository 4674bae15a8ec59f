"""An upload handler that refuses files over the size limit without storing them.

Django reads a request's whole body to find the CSRF token, so the limit is
checked while the body streams in: the file is skipped as soon as the declared
length or the bytes received pass the limit, and nothing of it is kept.
"""

from django.core.files.uploadhandler import FileUploadHandler, SkipFile

# Room for the form's other fields and the multipart boundaries.
FORM_OVERHEAD = 64 * 1024


class SizeLimitHandler(FileUploadHandler):
    def __init__(self, request, limit):
        super().__init__(request)
        self.limit = limit
        self.too_large = False
        self.received = 0

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > self.limit + FORM_OVERHEAD:
            self.too_large = True

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0
        if self.too_large:
            raise SkipFile()

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.too_large = True
            raise SkipFile()
        return raw_data

    def file_complete(self, file_size):
        return None
