"""The one base of errors that a person can act on."""


class ApplicationError(Exception):
    """An error shown to a fleet manager as it is: ``user_message`` says what happened in plain words,
    ``resolution`` what they can do about it (empty when nothing)."""

    user_message = "Something went wrong on our side; nothing was changed."
    resolution = ""

    def __init__(self, user_message: str | None = None, *, resolution: str | None = None):
        if user_message is not None:
            self.user_message = user_message
        if resolution is not None:
            self.resolution = resolution
        super().__init__(self.user_message)
