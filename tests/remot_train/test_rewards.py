import pytest

from remot_train.rewards import (
    AccuracyReward,
    ThinkLengthReward,
    build_reward_functions,
    consistency_reward,
    format_reward,
)

SOLUTION = "<answer>CAB</answer>"
OPTIONS = [["Left", "Right", "No rotation"], ["Right", "No rotation", "Left"], ["No rotation", "Left", "Right"]]


def test_format_reward_table():
    completions = [
        "<think>look at the floor</think><answer>CAB</answer>",  # full format, 3 letters
        "<think>x</think>\n<answer> abc </answer>\n",  # lowercase and whitespace are fine
        "<think>x</think><answer>CA</answer>",  # wrong number of letters: partial credit for 4 tags
        "<answer>CAB</answer>",  # no think block: 2 tags
        "<think>x<answer>CAB</answer>",  # no closing </think>: only the answer's credit
        "CAB",  # no tags at all
        [{"role": "assistant", "content": "<think>y</think><answer>BBB</answer>"}],  # conversational completion
        "the floor moves left</think><answer>CAB</answer>",  # Qwen3-VL-Thinking: the template opened <think>
        "<think></think><answer></answer>",  # empty tags earn nothing (they used to earn 1.75 of 8.7 weighted)
        "<think> </think><answer>CAB</answer>",  # nothing thought: not the full format
    ]
    expected = [1.0, 1.0, 0.5, 0.25, 0.25, 0.0, 1.0, 1.0, 0.0, 0.25]
    assert format_reward(completions, [SOLUTION] * len(completions)) == expected


def test_format_reward_needs_letters_the_sub_questions_offer():
    # "E" is no option of a three-option sub-question: the format is not complete (it used to be)
    completions = ["<think>x</think><answer>EEE</answer>", "<think>x</think><answer>CAB</answer>"]
    assert format_reward(completions, [SOLUTION] * 2, options=[OPTIONS] * 2) == [0.5, 1.0]


def test_format_reward_unscorable_solution_is_none():
    assert format_reward(["<answer>A</answer>"], ["no answer here"]) == [None]


@pytest.mark.parametrize(
    "mode, expected",
    [("exact", [1.0, 0.0, 0.0, 0.0, 1.0]), ("per_char", [1.0, 2 / 3, 1 / 3, 0.0, 1.0])],
)
def test_accuracy_reward_table(mode, expected):
    completions = [
        "<answer>CAB</answer>",  # right
        "<answer>CAC</answer>",  # last letter wrong
        "<answer>C</answer>",  # too short: missing letters are wrong
        "CAB",  # no answer block: nothing to score, wrong
        "<think>..</think><answer> cab </answer>",  # lowercase with spaces: right
    ]
    assert AccuracyReward(mode)(completions, [SOLUTION] * 5) == pytest.approx(expected)


def test_consistency_reward_table():
    completions = [
        "<answer>BAC</answer>",  # Right, Right, Right: physically possible, but not the flip structure
        "<answer>BCB</answer>",  # Right, Left, Left: the (s, -s, -s) structure
        "<answer>BBA</answer>",  # Right, No rotation, No rotation: 1->2 right, 2->3 still, 1->3 still: contradiction
        "<answer>ZZZ</answer>",  # undecodable letters: neutral
    ]
    assert consistency_reward(completions, [OPTIONS] * 4) == [0.0, 1.0, -1.0, 0.0]
    # with the solution, the structure pays only as far as the answer is right: a wrong answer with the flip
    # structure (Left, Right, Right) used to collect the whole +1
    wrong_but_structured = "<answer>AAC</answer>"  # Left, Right, Right: the structure, every letter wrong
    right = "<answer>BCB</answer>"
    assert consistency_reward([wrong_but_structured, right], [OPTIONS] * 2, ["<answer>BCB</answer>"] * 2) == [0.0, 1.0]
    assert consistency_reward(["<answer>A</answer>"], [[]]) == [None]
    assert consistency_reward(["<answer>A</answer>"]) == [None]


def test_think_length_penalty():
    reward = ThinkLengthReward(10)
    completions = [
        "<think>" + "w " * 5 + "</think>",  # within the target
        "<think>" + "w " * 25 + "</think>",  # 15 words over: -1.5
        "no think",  # no thinking block: two words, no penalty
        "w " * 25 + "</think><answer>A</answer>",  # the template opened <think>: still counted
        "<think>" + "w " * 25,  # never closed: all of it is thinking (it used to escape the penalty)
    ]
    assert reward(completions) == [0.0, -1.5, 0.0, -1.5, -1.5]


def test_build_reward_functions_keeps_names_and_weights():
    funcs, weights = build_reward_functions(
        {"format": 3.5, "accuracy": 3.5, "think_length": 1.3, "consistency": 1.7},
        accuracy_mode="exact",
        think_target_words=100,
    )
    assert [f.__name__ for f in funcs] == [
        "format_reward",
        "accuracy_reward",
        "think_length_reward",
        "consistency_reward",
    ]
    assert weights == [3.5, 3.5, 1.3, 1.7]
    with pytest.raises(ValueError, match="unknown reward component 'style'"):
        build_reward_functions({"style": 1.0}, accuracy_mode="exact", think_target_words=100)


def test_reward_functions_survive_pickling():
    # accelerate / multi-process setups pickle the trainer's reward functions: closures could not cross
    import pickle

    funcs, _ = build_reward_functions(
        {"format": 1.0, "accuracy": 1.0, "think_length": 1.0, "consistency": 1.0},
        accuracy_mode="exact",
        think_target_words=3,
    )
    completions = ["<think>a b c d e f</think><answer>AB</answer>"]
    for func in funcs:
        copy = pickle.loads(pickle.dumps(func))
        assert copy.__name__ == func.__name__
        assert copy(completions, solution=["<answer>AB</answer>"], options=[[["Left", "Right"]] * 2]) == func(
            completions, solution=["<answer>AB</answer>"], options=[[["Left", "Right"]] * 2]
        )


def test_consistency_reward_on_a_real_camera_item(built_dataset):
    # camera items have 12 sub-questions (direction and angle, two axes, three pairs): their own answer has the
    # flip structure and earns +1; "No rotation" everywhere is consistent but no contrast: 0
    from remot_data.table import read_triplets

    row = next(r for r in read_triplets(built_dataset).to_pylist() if r["family"] == "camera_rotation")
    options = [row["options"]]
    assert consistency_reward([row["solution"]], options, [row["solution"]]) == [1.0]
    still = "".join("ABCDE"[opts.index("No rotation")] for opts in row["options"])
    assert consistency_reward([f"<answer>{still}</answer>"], options, [row["solution"]]) == [0.0]


def test_the_tiny_models_template_opens_thinking_like_qwen3_vl_thinking(tiny_model_dir):
    # the generation prompt ends inside <think>: a completion only closes it, and must still earn the full format
    from remot_train.modeling import load_processor

    processor = load_processor(tiny_model_dir)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Q"}]}]
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert prompt.endswith("<|im_start|>assistant\n<think>\n")
    completion = "the arm moves left\n</think>\n<answer>CAB</answer>"
    assert format_reward([completion], [SOLUTION], options=[OPTIONS]) == [1.0]
    assert ThinkLengthReward(2)([completion]) == [-1.0]  # 4 words of thinking against a target of 2


CONSISTENT = "<answer>AAC</answer>"  # Left / Right / Right under OPTIONS: the flip structure (s, -s, -s)
WORDS_1500 = " ".join(["w"] * 1500)
PAPER_WEIGHTS = {"format": 3.5, "accuracy": 3.5, "think_length": 1.3, "consistency": 1.7}


def _components(completion, *, target_words=400):
    funcs, _ = build_reward_functions(PAPER_WEIGHTS, accuracy_mode="per_char", think_target_words=target_words)
    return [f([completion], solution=[CONSISTENT], options=[OPTIONS])[0] for f in funcs]


def _total(completion):
    return sum(w * r for w, r in zip(PAPER_WEIGHTS.values(), _components(completion), strict=True))


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        # (format, accuracy, think_length, consistency) with the paper's L = 400 words; AAC is Left, Right, Right
        ("looked</think><answer>AAC</answer>", (1.0, 1.0, 0.0, 1.0)),  # honest and short
        (f"{WORDS_1500}</think><answer>AAC</answer>", (1.0, 1.0, -2.75, 1.0)),  # honest, 1100 words over
        # a second </think>: the reasoning after the first one is not hidden from the penalty, and no full format
        (f"x</think>{WORDS_1500}</think><answer>AAC</answer>", (0.5, 1.0, -2.7525, 1.0)),
        # reasoning after </think>, before <answer>: counted, and not the format
        (f"x</think>{WORDS_1500}<answer>AAC</answer>", (0.5, 1.0, -2.7525, 1.0)),
        # an answer inside the thinking: no format credit; accuracy reads the last (final) block
        ("draft <answer>AAA</answer> so</think><answer>AAC</answer>", (0.25, 1.0, 0.0, 1.0)),
        ("<think>so</think><answer>AAC</answer> and more words after", (0.5, 1.0, 0.0, 1.0)),
    ],
    ids=["honest-short", "honest-long", "two-think-ends", "reasoning-after-think", "answer-in-think", "text-after"],
)
def test_reward_components_close_the_loopholes(completion, expected):
    assert _components(completion) == pytest.approx(list(expected))


def test_no_loophole_outscores_the_honest_completion_of_the_same_length():
    honest = _total(f"{WORDS_1500}</think><answer>AAC</answer>")
    for cheat in (
        f"x</think>{WORDS_1500}</think><answer>AAC</answer>",
        f"x</think>{WORDS_1500}<answer>AAC</answer>",
        f"x <answer>AAC</answer> {WORDS_1500}</think><answer>AAC</answer>",
    ):
        assert _total(cheat) < honest, cheat
