"""What is wrong with a file or a row, said so that someone can fix it: line, column, reason."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    line: int | None  # the line the row starts on; None for the file as a whole
    column: str  # the column (CSV) or key (JSON); "" when it is the row or the file
    reason: str

    def __str__(self):
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column:
            where.append(f"column {self.column}")
        if not where:
            return self.reason[:1].upper() + self.reason[1:]
        return f"{', '.join(where).capitalize()}: {self.reason}"

    def as_dict(self):
        return {"line": self.line, "column": self.column, "reason": self.reason}


class FileProblem(Exception):
    """The file cannot be read any further (wrong encoding, broken quoting, no header): nothing is imported."""

    def __init__(self, reason, line=None, column=""):
        self.problem = Problem(line, column, reason)
        super().__init__(str(self.problem))


class ProblemLog:
    """Every problem goes to `sink` as it is found (printed, or written to a file); the first `keep` stay in memory."""

    def __init__(self, keep=20, sink=None):
        self.keep = keep
        self.sink = sink
        self.first = []
        self.count = 0

    def add(self, problem):
        self.count += 1
        if len(self.first) < self.keep:
            self.first.append(problem)
        if self.sink is not None:
            self.sink(problem)

    def extend(self, problems):
        for p in problems:
            self.add(p)
