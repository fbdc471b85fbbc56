"""The one kind of error a user can fix.

Every problem caused by input (a missing dataset, a corrupt checkpoint, a malformed YAML file, an
unwritable folder) raises a subclass of StudyError whose message is one line naming the file or
option and the fix; build.py prints it and exits non-zero. Anything else is a bug and keeps its
traceback.
"""


class StudyError(Exception):
    """A problem with the user's input; the message names the file or option and the fix."""
