"""Reports in and out as files: ACLED exports and the monitor's own format (docs/importing.md).

- `text`: bytes → lines → CSV records or JSON objects, streamed, with line numbers;
- `acled`, `native`: one row → the values of a Report, or the problems with it;
- `lookups`: sources, commitments, party and place names, read once per file;
- `staging`: on PostgreSQL, upserts tuples of checked rows through COPY and a staging table, on a
  thread of its own (history only for what an update changes: the import job is a new report's audit);
- `writer`: the same, portably (SQLite, and the report format's rows);
- `run`: one file through all of that in one transaction, committed or rolled back;
- `jobs`, `tasks`: the admin's upload → check → confirm → import, in the background when large;
- `exports`: reports and verdicts as CSV or JSON, as the public may see them.

Memory stays flat whatever the file's size: a file is read a chunk of lines at a
time and written a batch at a time; what grows is a counter or two and, for the
re-evaluation once the import commits, 8 bytes per written row.
"""
