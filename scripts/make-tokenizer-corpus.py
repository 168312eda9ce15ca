#!/usr/bin/python3
"""Writes native/tests/data/tokenizer/own_corpus.json: the project's own tokenizer test strings with
the ids the reference implementation gives them.

Oracle: the official sentencepiece (Debian's python3-sentencepiece 0.1.97, which loads the InternLM2
tokenizer.model with its NUL piece) on fixtures/tiny-a/tokenizer.model, after the HF slow
tokenizer's added-token split (architecture.md section 7.2: leftmost match, longest at the same
start, of every added token of tokenizer_config.json / added_tokens.json; each remaining chunk is
encoded by sentencepiece on its own). Decoding follows the engine's rule (section 7.2 item 4).

Usage: /usr/bin/python3 scripts/make-tokenizer-corpus.py [FIXTURES_DIR]
(FIXTURES_DIR defaults to $VLAC_FIXTURES, else ../shared/fixtures beside the repository.)
The output holds only the strings below and their ids, no fixture content.
"""
import json
import os
import random
import sys

import sentencepiece

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "native", "tests", "data", "tokenizer", "own_corpus.json")

# Hand-written strings: the prompts VLAC renders, the replies it parses, and text users type.
CASES = [
    # robot task phrasing
    "Pick up the red block and place it in the bowl.",
    "Scoop the rice into the rice cooker.",
    "open the top drawer",
    "Put the spoon on the left side of the plate, then close the microwave door.",
    "Fold the towel in half twice.",
    "Pour water from the kettle into the cup without spilling.",
    "Stack the three cubes: blue on green, green on yellow.",
    "Wipe the table with the sponge.",
    "Push the button labelled 'START'.",
    "Task: insert the USB plug into the port (gently!).",
    "The robot arm moves 5 cm to the right.",
    "Is the gripper closed? Answer yes or no.",
    "The target task is: <task> Move the mug to the coaster. </task>",
    "Image-1: <img><IMG_CONTEXT></img>\nImage-2: <img><IMG_CONTEXT></img>\n",
    "Compare the two images and output the progress difference as a percentage.",
    "<|im_start|>user\nHow far along is the task?<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>system\n<|im_end|>",
    "The progress is +12.5%.",
    "-3.75",
    "+0",
    "-0",
    "+100",
    "-100.0",
    "1000.25",
    "0.001",
    "99.999",
    "3,141,592",
    "1e10 2E-3 6.02e23",
    "0x1F 0b1010 0o17",
    "12:30:45",
    "2024-06-01T08:15:00Z",
    "v1.2.3-rc.4",
    "x=-18mm, y=+11mm",
    "(-1, 2.5, -3e-4)",
    "[0.12, -0.34, 0.56, -0.78]",
    "100%100%100%",
    "4294967296",
    "18446744073709551615",
    "-2147483648",
    "１２３ ４５６",
    # JSON-like text
    '{"critic": 12.5, "done": false}',
    '{"a":{"b":[1,2,{"c":null}]}}',
    '[{"id": 1, "name": "cup"}, {"id": 2, "name": "plate"}]',
    '{\n  "key": "value",\n  "n": -1\n}',
    '"escaped \\"quote\\" and \\\\ backslash"',
    "key: value\nlist:\n  - a\n  - b\n",
    "<score>+25</score>",
    "<done>1</done>",
    "<task>Open the door</task><score>",
    "<think>The cup moved closer to the target.</think>-5",
    # whitespace
    " ",
    "      ",
    " " * 40,
    " " * 257,
    "\t \t \t",
    "\n \n \n",
    "a" + " " * 33 + "b",
    "\r\r\n\n",
    "line1\nline2\r\nline3\rline4",
    "\v\f",
    "trailing\n\n\n\n\n",
    " \u3000 \u3000",
    "\u00a0\u2002\u2003\u2009\u200a",
    # specials in odd places
    "<s></s><unk>",
    "<s> <s>  <s>",
    "</s></s></s></s>",
    "<|im_end|><|im_end|><|im_end|>",
    "<IMG_CONTEXT>" * 7,
    "<img></img><img></img>",
    "<|im_start|><|im_start|>system",
    "a<s>b</s>c<unk>d",
    "<|plugin|>x<|interpreter|>y<|action_start|>z<|action_end|>",
    "<quad>0.1,0.2</quad><ref>cup</ref><box>[[1,2],[3,4]]</box>",
    "<<img>>",
    "<img<img>>",
    "<|im_start|",
    "<|im_start|<|im_end|>",
    "<IMG_CONTEXT <IMG_CONTEXT>",
    "<s",
    "s>",
    "<unk",
    "[UNUSED_TOKEN_141]",
    "[UNUSED_TOKEN_0][UNUSED_TOKEN_1]",
    "[UNUSED_TOKEN_140]<|plugin|>",
    "[UNUSED_TOKEN_147]",
    "[UNUSED_TOKEN_]",
    "[UNUSED_TOKEN_14",
    "x[UNUSED_TOKEN_7]y",
    # mixed scripts
    "机器人把杯子放到桌子上。",
    "请将红色方块放入碗中，然后关闭抽屉。",
    "ロボットがカップを持ち上げる",
    "로봇이 컵을 집어 듭니다",
    "Робот берёт чашку.",
    "الروبوت يلتقط الكوب",
    "רובוט מרים כוס",
    "रोबोट कप उठाता है",
    "Ο ρομποτικός βραχίονας",
    "Tiếng Việt có dấu",
    "Türkçe İstanbul ığüşöç",
    "ＡＢＣａｂｃ",
    "——……——",
    "mixed 中文 and English 和 日本語 text",
    "Größe: 5 µm × 3 µm",
    "café naïve résumé",
    "e\u0301 a\u0300 o\u0308",
    "Z\u0351\u036b\u0343a\u0310l\u0357g\u0344o",
    "🤖🦾🦿",
    "👩\u200d🔬👨\u200d🍳",
    "🏳️\u200d🌈",
    "👋🏻👋🏼👋🏽👋🏾👋🏿",
    "1️⃣ 2️⃣ #️⃣",
    "🇯🇵🇩🇪🇧🇷",
    "emoji at end 🙂",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛",
    "\U0001F600\U0001F601\U0001F602",
    "\U000E0041\U000E007F",
    "\U0010FFFF",
    "\uFFFF\uFFFE",
    "\x00\x00\x00",
    "tab\there",
    "\x1f\x1e\x1d",
    "▁▁▁",
    "a▁ b ▁c",
    "math: ∀x∈ℝ, x²≥0 ⇒ √(x²)=|x|",
    "arrows ← → ↑ ↓ ↔",
    "box drawing ┌─┐│└┘",
    "ellipsis… and dash — and quote “hi” ‘there’",
    "C:\\Program Files\\robot\\config.ini",
    "/home/user/data/episode_001/frame_0042.jpg",
    "https://huggingface.co/InternVL2-2B?x=1&y=2",
    "user@example.com",
    "#include <vector>\nint main() { return 0; }\n",
    "SELECT * FROM frames WHERE score > 0.5;",
    "a" * 300,
    "ab" * 150,
    "Robot! " * 40,
    "12" * 100,
    "。" * 50,
    "<|im_end|>\n" * 20,
]

# Deterministic random mixes of the atoms the tokenizer treats differently, to catch merge-order
# and split differences the hand-written strings miss.
ATOMS = (
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    + list(" \t\n.,:;!?-+*/=<>()[]{}|_\"'%#@&^~`\\")
    + ["  ", "   ", "\n\n", " the", "ing", "tion", " robot", " cup", "12.5", "-100", "+7"]
    + list("机器人杯子放到桌上。，的了是")
    + list("ＡＢＣｘｙｚ") + ["——", "……", "▁"]
    + ["😀", "🤖", "👍🏽", "\u200d", "é", "e\u0301", "ß", "Ж", "ع", "\x00", "\x7f", "\u00a0", "\ufffd"]
    + ["<s>", "</s>", "<unk>", "<|im_start|>", "<|im_end|>", "<img>", "</img>", "<IMG_CONTEXT>",
       "<|plugin|>", "<box>", "[UNUSED_TOKEN_3]", "[UNUSED_TOKEN_145]", "<|im_", "<IMG_", "[UNUSED_"]
)
RANDOM_CASES = 200
RANDOM_SEED = 20240601


def fixtures_dir():
    if len(sys.argv) > 1:
        return sys.argv[1]
    return os.environ.get("VLAC_FIXTURES") or os.path.join(os.path.dirname(REPO), "shared", "fixtures")


def load_added_tokens(tiny):
    """id -> content of every added token (tokenizer_config added_tokens_decoder + added_tokens.json)."""
    with open(os.path.join(tiny, "tokenizer_config.json"), encoding="utf-8") as f:
        config = json.load(f)
    with open(os.path.join(tiny, "added_tokens.json"), encoding="utf-8") as f:
        added = json.load(f)
    tokens = {int(k): v["content"] for k, v in config.get("added_tokens_decoder", {}).items()}
    for content, i in added.items():
        tokens[i] = content
    return tokens


def split_added(text, contents):
    """HF added-token split: leftmost occurrence, longest among those starting there."""
    by_first = sorted(contents, key=len, reverse=True)
    out, chunk, i = [], 0, 0
    while i < len(text):
        match = next((c for c in by_first if text.startswith(c, i)), None)
        if match is None:
            i += 1
            continue
        if i > chunk:
            out.append((False, text[chunk:i]))
        out.append((True, match))
        i += len(match)
        chunk = i
    if chunk < len(text):
        out.append((False, text[chunk:]))
    return out


def main():
    tiny = os.path.join(fixtures_dir(), "tiny-a")
    sp = sentencepiece.SentencePieceProcessor(model_file=os.path.join(tiny, "tokenizer.model"))
    added = load_added_tokens(tiny)
    ids_of = {c: i for i, c in added.items()}

    def encode(text):
        ids = []
        for is_added, part in split_added(text, list(ids_of)):
            ids += [ids_of[part]] if is_added else sp.encode(part)
        return ids

    def decode(ids, skip_special):
        # Every added token of this tokenizer is special (tokenizer_config: "special": true).
        text, run = "", []
        for i in ids:
            if i in added:
                if skip_special:
                    continue
                text += sp.decode(run) + added[i]
                run = []
            else:
                run.append(i)
        return text + sp.decode(run)

    rng = random.Random(RANDOM_SEED)
    randoms = ["".join(rng.choice(ATOMS) for _ in range(rng.randint(1, 40))) for _ in range(RANDOM_CASES)]
    cases = []
    for text in CASES + randoms:
        ids = encode(text)
        cases.append({"text": text, "ids": ids, "decoded": decode(ids, True),
                      "decoded_with_special": decode(ids, False)})
    doc = {
        "about": "vlac-engine's own tokenizer corpus: sentencepiece " + sentencepiece.__version__ +
                 " on fixtures/tiny-a/tokenizer.model after the HF added-token split; ids without BOS; "
                 "written by scripts/make-tokenizer-corpus.py (the last %d cases are random mixes, seed %d)"
                 % (RANDOM_CASES, RANDOM_SEED),
        "cases": cases,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:  # one case per line, so diffs stay readable
        f.write('{"about": %s,\n"cases": [\n' % json.dumps(doc["about"]))
        f.write(",\n".join(json.dumps(c, ensure_ascii=False) for c in cases))
        f.write("\n]}\n")
    print("wrote %d cases to %s" % (len(cases), OUT))


if __name__ == "__main__":
    main()
