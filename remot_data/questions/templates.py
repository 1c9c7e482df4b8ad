"""Prompt wording, copied from the ReMoT release (``shared/reference/remot_release/``) so exports interchange.

Only strings and string assembly live here; choosing labels and shuffling options is ``render.py``'s job.
"""

from __future__ import annotations

LETTERS = "ABCDE"
PAIRS = ((1, 2), (1, 3), (2, 3))

NO_ROTATION = "No rotation"
NO_MOVEMENT = "No movement"
DEGREES = "{angle} degrees"

CAMERA_PREAMBLE = (
    "Ignore simple camera translation and only consider the camera's horizontal or vertical rotation. "
    "Please answer the following questions based on the three images above."
)
CAMERA_QUESTION = (
    "Please select the {axis} rotation {kind} of the camera's viewpoint from Image {a} to Image {b} "
    "among the following options, {options}."
)
CAMERA_CLOSING = (
    "Please answer the multiple-choice questions above in sequence."
    "Only return A, B, C, or D in <answer></answer>, for example <answer>ADCAABADBACA</answer>."
)
CAMERA_DIRECTIONS = {"horizontal": ("Left", "Right"), "vertical": ("Down", "Up")}


def format_options(options: list[str]) -> str:
    """Return ``A: x, B: y, C: z`` for the options in letter order.

    Example:
        >>> format_options(["Left", "No rotation", "Right"])
        'A: Left, B: No rotation, C: Right'
    """
    return ", ".join(f"{LETTERS[i]}: {text}" for i, text in enumerate(options))


def format_camera_prompt(questions: list[tuple[str, str, int, int, list[str]]]) -> str:
    """Assemble the camera-rotation prompt exactly as the release writes it.

    Args:
        questions: One ``(axis, kind, a, b, options)`` per sub-question in answer order; axis is ``horizontal`` or
            ``vertical``, kind ``direction`` or ``angle``, a/b the image numbers.

    Returns:
        The prompt; note that the release puts no space between the preamble and the first question, nor between
        the two closing sentences.
    """
    lines = [
        CAMERA_QUESTION.format(axis=axis, kind=kind, a=a, b=b, options=format_options(options))
        for axis, kind, a, b, options in questions
    ]
    return CAMERA_PREAMBLE + "\n".join(lines) + "\n" + CAMERA_CLOSING
