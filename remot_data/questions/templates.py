"""Prompt wording, copied from the ReMoT release (``tests/data/remot_release/``) so exports interchange.

Only strings and string assembly live here; choosing labels and shuffling options is ``render.py``'s job. The option
words themselves (letters, directions, "No rotation"/"No movement", angle labels) are the contract's
(``schemas/vocabulary.yaml``).
"""

from __future__ import annotations

from schemas import load_vocabulary

_VOCABULARY = load_vocabulary()
LETTERS = _VOCABULARY.letters
PAIRS = ((1, 2), (1, 3), (2, 3))

NO_ROTATION = _VOCABULARY.no_change("camera_rotation")
NO_MOVEMENT = _VOCABULARY.no_change("move_lr")
DEGREES = _VOCABULARY.families["camera_rotation"]["angle_label"]

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
# (negative, positive) word per axis, as the release lists them.
CAMERA_DIRECTIONS = {axis: _VOCABULARY.family_words("camera_rotation", axis) for axis in ("horizontal", "vertical")}


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


AGIBOT_PREAMBLE = (
    "The image showed to you is what the robot seen by its eyes.\n"
    "In the image, the robotic arm on the left is the robot's left arm, and the robotic arm on the right is the "
    "robot's right arm.\n"
    "Focus only on robot arm/gripper motion across the three images."
)
AGIBOT_QUESTIONS = {
    "grab_release": "Please select from the following options whether the {arm} gripper is opened or closed "
    "from Image {a} to Image {b}? {options}.",
    "lift_lower": "Please select from the following options the vertical movement direction of the {arm} robotic arm "
    "from Image {a} to Image {b}? {options}.",
    "move_lr": "Please select from the following options the horizontal movement direction of the {arm} robotic arm "
    "from Image {a} to Image {b}? {options}.",
    "move_complex": "Please select from the following options the movement direction of the {arm} robotic arm "
    "from Image {a} to Image {b}? {options}.",
}
AGIBOT_CLOSING = {
    3: "Answer all three questions above in order. Only return the correct option A, B,or C for each of the three "
    "questions in order inside <answer></answer>, e.g., <answer>CAB</answer>",
    5: "Answer all three questions above in order. Only return the correct option A, B, C, D,or E for each of the "
    "three questions in order inside <answer></answer>, e.g., <answer>BEA</answer>",
}


# Option sets per family, besides "No movement" (always offered).
def format_agibot_prompt(family: str, arm: str, options: list[list[str]]) -> str:
    """Assemble an AgiBot-family prompt exactly as the release writes it (one question per pair 1->2, 1->3, 2->3).

    Args:
        family: ``grab_release``, ``lift_lower``, ``move_lr`` or ``move_complex``.
        arm: ``left`` or ``right``.
        options: Offered options per pair, in letter order.
    """
    lines = [
        AGIBOT_QUESTIONS[family].format(arm=arm, a=a, b=b, options=format_options(opts))
        for (a, b), opts in zip(PAIRS, options, strict=True)
    ]
    return AGIBOT_PREAMBLE + "\n" + "\n".join(lines) + "\n" + AGIBOT_CLOSING[len(options[0])]


# remot's own families, object tracks and the recording car (no ReMoT release wording exists): the AgiBot structure
# and closing, one question per pair.
OBJECT_PREAMBLE = {
    "object_count": "The three images show the same place a few seconds apart.\n"
    "Focus only on how many {subject} are clearly visible in each image.",
    "object_move_lr": "The three images show the same place a few seconds apart. The {subject} marked with a red box "
    "is the same {subject} in all three images.\n"
    "Focus only on where the marked {subject} is in each image.",
    "object_speed": "The three images show the same place a few seconds apart. Each image is a double exposure: the "
    "faint copy shows the scene {ghost_s:g} seconds earlier. The {subject} marked with a red box is the same {subject} "
    "in all three images.\n"
    "Focus only on how far the marked {subject} moved in those {ghost_s:g} seconds in each image.",
    "ego_turn": "The three images were taken a few seconds apart by a camera looking ahead from a car.\n"
    "Focus only on which way the car turned between the images.",
    "ego_forward": "The three images were taken a few seconds apart by a camera looking ahead from a car.\n"
    "Focus only on whether the car moved forward or backward between the images.",
    "ego_speed": "The three images were taken a few seconds apart by a camera looking ahead from a car. Each image "
    "is a double exposure: the faint copy shows the view {ghost_s:g} seconds earlier.\n"
    "Focus only on how far the car moved in those {ghost_s:g} seconds in each image.",
}
OBJECT_QUESTIONS = {
    "object_count": "Please select from the following options how the number of visible {subject} changes "
    "from Image {a} to Image {b}? {options}.",
    "object_move_lr": "Please select from the following options the horizontal movement direction of the marked "
    "{subject} in the image from Image {a} to Image {b}? {options}.",
    "object_speed": "Please select from the following options how the speed of the marked {subject} changes "
    "from Image {a} to Image {b}? {options}.",
    "ego_turn": "Please select from the following options the direction the car turned from Image {a} to Image {b}? "
    "{options}.",
    "ego_forward": "Please select from the following options the direction the car moved from Image {a} to Image "
    "{b}? {options}.",
    "ego_speed": "Please select from the following options how the car's speed changes from Image {a} to Image {b}? "
    "{options}.",
}


def format_object_prompt(family: str, subject: str, options: list[list[str]], *, ghost_s: float = 0.0) -> str:
    """Assemble an object-family prompt (one question per pair 1->2, 1->3, 2->3, the AgiBot closing).

    Args:
        family: ``object_count`` or ``object_move_lr``.
        subject: The counted subject (``pedestrians``) or the marked object's category (``pedestrian``).
        options: Offered options per pair, in letter order.
        ghost_s: For ``object_speed``: how much earlier the faint copy in each image is, seconds.

    Example:
        >>> prompt = format_object_prompt("object_count", "pedestrians", [["More", "Fewer", "No change"]] * 3)
        >>> print(prompt.splitlines()[0])
        The three images show the same place a few seconds apart.
    """
    lines = [
        OBJECT_QUESTIONS[family].format(subject=subject, a=a, b=b, options=format_options(opts))
        for (a, b), opts in zip(PAIRS, options, strict=True)
    ]
    preamble = OBJECT_PREAMBLE[family].format(subject=subject, ghost_s=ghost_s)
    return preamble + "\n" + "\n".join(lines) + "\n" + AGIBOT_CLOSING[len(options[0])]
