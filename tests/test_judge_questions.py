"""Question sets (embedded, FastChat files, dataset folders) and the answer/translation files."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from builder.judge.questions import load_answers, load_native_questions, load_questions

VICUNA_CATEGORIES = {
    "generic",
    "knowledge",
    "roleplay",
    "common-sense",
    "fermi",
    "counterfactual",
    "coding",
    "math",
    "writing",
}


def write_jsonl(path, rows):
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def test_embedded_set_covers_every_vicuna_category():
    questions = load_questions()
    counts = Counter(q.category for q in questions)
    assert set(counts) == VICUNA_CATEGORIES and set(counts.values()) == {3}
    assert len({q.question_id for q in questions}) == len(questions) == 27
    assert all(q.text.strip() and q.text == q.text.strip() for q in questions)


def test_vicuna_80_file(shared_data):
    questions = load_questions(str(shared_data / "vicuna_bench" / "question.jsonl"))
    assert len(questions) == 80
    assert {q.category for q in questions} == VICUNA_CATEGORIES
    assert questions[0].question_id == "1" and questions[0].text.startswith(
        "How can I improve my time management"
    )
    assert len(load_questions(str(shared_data / "vicuna_bench" / "question.jsonl"), limit=5)) == 5


def test_text_field_and_json_list(tmp_path):
    # the X-Instruction release stores the question under "text"
    path = write_jsonl(
        tmp_path / "q.jsonl", [{"question_id": 7, "category": "math", "text": "What is 2+2?"}]
    )
    assert load_questions(str(path))[0].to_dict() == {
        "question_id": "7",
        "category": "math",
        "text": "What is 2+2?",
    }
    listed = tmp_path / "q.json"
    listed.write_text(json.dumps([{"id": "a", "question": "Why?"}]), encoding="utf-8")
    question = load_questions(str(listed))[0]
    assert (question.question_id, question.category, question.text) == ("a", "general", "Why?")


@pytest.mark.parametrize(
    "rows, message",
    [
        ([{"question_id": 1, "category": "x"}], "no question text"),
        ([{"question_id": 1, "turns": []}], "'turns' must be a non-empty list"),
        (
            [{"question_id": 1, "text": "a"}, {"question_id": 1, "text": "b"}],
            "duplicate question id '1'",
        ),
        ([{"question_id": 1, "text": "   "}], "the question text is empty"),
        ([], "holds no questions"),
    ],
)
def test_bad_question_files_name_the_problem(tmp_path, rows, message):
    path = write_jsonl(tmp_path / "q.jsonl", rows)
    with pytest.raises(ValueError, match=message):
        load_questions(str(path))


def test_broken_json_line_and_missing_source(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"question_id": 1, "text": "ok"}\n{not json\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 2 is not valid JSON"):
        load_questions(str(path))
    with pytest.raises(
        FileNotFoundError,
        match="^question file 'no_such_file.jsonl' does not exist; check the path",
    ):
        load_questions("no_such_file.jsonl")
    # one slash and a file suffix: a mistyped path, never sent to the Hub (HF_HUB_OFFLINE would say so)
    with pytest.raises(
        FileNotFoundError, match="^question file 'evalin/q-goood.jsonl' does not exist"
    ):
        load_questions("evalin/q-goood.jsonl")
    with pytest.raises(FileNotFoundError, match="neither 'embedded'"):
        load_questions("no-such-set")
    with pytest.raises(ValueError, match="limit"):
        load_questions(limit=0)


def test_dataset_folder_through_datasets(tmp_path):
    from datasets import Dataset

    folder = tmp_path / "my_questions"
    Dataset.from_list(
        [
            {"id": 1, "category": "fermi", "instruction": "How many piano tuners are in Nairobi?"},
            {"id": 2, "category": "math", "instruction": "What is 3 * 7?"},
        ]
    ).to_parquet(str(folder / "train-00000-of-00001.parquet"))
    questions = load_questions(str(folder))
    assert [q.text for q in questions] == [
        "How many piano tuners are in Nairobi?",
        "What is 3 * 7?",
    ]


def test_native_questions_by_language_placeholder(tmp_path):
    questions = load_questions(limit=2)
    write_jsonl(
        tmp_path / "q.sw.jsonl",
        [{"question_id": q.question_id, "text": f"Swali {q.question_id}"} for q in questions],
    )
    native = load_native_questions(str(tmp_path / "q.{lang}.jsonl"), "sw", questions)
    assert native == {"1": ("Swali 1",), "2": ("Swali 2",)}


def test_native_questions_from_a_mixed_file_and_missing_ids(tmp_path):
    questions = load_questions(limit=2)
    mixed = write_jsonl(
        tmp_path / "all.jsonl",
        [
            {"question_id": "1", "lang": "sw", "text": "Swali moja"},
            {"question_id": "1", "lang": "fi", "text": "Kysymys yksi"},
            {"question_id": "2", "lang": "fi", "text": "Kysymys kaksi"},
        ],
    )
    assert load_native_questions(str(mixed), "fi", questions) == {
        "1": ("Kysymys yksi",),
        "2": ("Kysymys kaksi",),
    }
    with pytest.raises(ValueError, match=r"no sw text for question ids \['2'\]"):
        load_native_questions(str(mixed), "sw", questions)
    with pytest.raises(ValueError, match="placeholder"):
        load_native_questions(str(tmp_path / "q.{language}.jsonl"), "sw", questions)


def test_reference_answers_plain_and_fastchat(tmp_path):
    plain = write_jsonl(
        tmp_path / "ref.sw.en.jsonl",
        [
            {"question_id": 1, "output": "Jibu la kwanza"},
            {"question_id": 2, "answer": "Jibu la pili"},
        ],
    )
    assert load_answers(str(tmp_path / "ref.{lang}.{setting}.jsonl"), "sw", "en", ["1", "2"]) == {
        "1": ("Jibu la kwanza",),
        "2": ("Jibu la pili",),
    }
    assert plain.exists()
    fastchat = write_jsonl(
        tmp_path / "gpt35.jsonl",
        [
            {
                "question_id": 1,
                "model_id": "gpt-3.5-turbo",
                "choices": [{"index": 0, "turns": ["first"]}],
            },
            {
                "question_id": 2,
                "model_id": "gpt-3.5-turbo",
                "choices": [{"index": 0, "turns": ["second"]}],
            },
        ],
    )
    assert load_answers(str(fastchat), "sw", "native", ["2"]) == {"2": ("second",)}
    with pytest.raises(ValueError, match=r"no answer for question ids \['3'\]"):
        load_answers(str(fastchat), "sw", "en", ["1", "3"])
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"question_id": 1, "score": 3}])
    with pytest.raises(ValueError, match="no answer text"):
        load_answers(str(bad), "sw", "en", ["1"])


def test_reference_answers_filtered_by_language_and_setting(tmp_path):
    path = write_jsonl(
        tmp_path / "refs.jsonl",
        [
            {"question_id": 1, "lang": "sw", "setting": "en", "answer": "sw-en"},
            {"question_id": 1, "lang": "sw", "setting": "native", "answer": "sw-native"},
            {"question_id": 1, "lang": "fi", "setting": "en", "answer": "fi-en"},
        ],
    )
    assert load_answers(str(path), "sw", "native", ["1"]) == {"1": ("sw-native",)}
    assert load_answers(str(path), "fi", "en", ["1"]) == {"1": ("fi-en",)}


# ----- multi-turn sets (MT-Bench) -----


def test_mt_bench_file_keeps_both_turns(shared_data):
    path = shared_data / "mt_bench" / "question.jsonl"
    rows = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    questions = load_questions(str(path))
    assert len(questions) == len(rows) == 80
    assert all(len(q.turns) == 2 for q in questions)
    assert [list(q.turns) for q in questions] == [[t.strip() for t in r["turns"]] for r in rows]
    first = questions[0]
    assert (first.question_id, first.category) == ("81", "writing")
    assert first.text.startswith(
        "Compose an engaging travel blog post about a recent trip to Hawaii"
    )
    assert first.followups == (
        "Rewrite your previous response. Start every sentence with the letter A.",
    )
    assert first.to_dict()["turns"] == list(first.turns)
    assert Counter(q.category for q in questions) == Counter(r["category"] for r in rows)


def test_single_turn_questions_stay_single(shared_data):
    questions = load_questions(str(shared_data / "vicuna_bench" / "question.jsonl"))
    assert all(q.turns == (q.text,) and q.followups == () for q in questions)
    assert set(questions[0].to_dict()) == {"question_id", "category", "text"}


def test_an_empty_turn_names_file_line_and_question(tmp_path):
    path = tmp_path / "mt.jsonl"
    path.write_text(
        json.dumps(
            {
                "question_id": 81,
                "category": "writing",
                "turns": ["Write a poem.", "Now shorten it."],
            }
        )
        + "\n\n"
        + json.dumps({"question_id": 82, "category": "writing", "turns": ["Write an email.", "  "]})
        + "\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError) as raised:
        load_questions(str(path))
    message = str(raised.value)
    assert message == (
        f"{path} line 3 (question id 82): turn 2 of 2 is empty; "
        "give every turn its text, or remove the question"
    )


def test_native_turns_must_match_the_question_set(tmp_path):
    questions = [
        q
        for q in load_questions(
            str(
                write_jsonl(
                    tmp_path / "mt.jsonl",
                    [
                        {
                            "question_id": 1,
                            "category": "writing",
                            "turns": ["Write a poem.", "Shorten it."],
                        }
                    ],
                )
            )
        )
    ]
    write_jsonl(
        tmp_path / "q.sw.jsonl", [{"question_id": 1, "turns": ["Andika shairi.", "Lifupishe."]}]
    )
    assert load_native_questions(str(tmp_path / "q.{lang}.jsonl"), "sw", questions) == {
        "1": ("Andika shairi.", "Lifupishe.")
    }
    write_jsonl(tmp_path / "q.fi.jsonl", [{"question_id": 1, "text": "Kirjoita runo."}])
    with pytest.raises(
        ValueError, match=r"question id 1 has 1 turn\(s\) in fi but 2 in the question set"
    ):
        load_native_questions(str(tmp_path / "q.{lang}.jsonl"), "fi", questions)


def test_fastchat_answer_file_gives_every_turn(tmp_path):
    path = write_jsonl(
        tmp_path / "gpt4.jsonl",
        [
            {
                "question_id": 81,
                "model_id": "gpt-4",
                "choices": [{"index": 0, "turns": ["blog post", "A rewrite."]}],
            },
            {"question_id": 82, "answer": "only one turn"},
        ],
    )
    assert load_answers(str(path), "sw", "en", ["81"], {"81": 2}) == {
        "81": ("blog post", "A rewrite.")
    }
    # single-turn use: turn 1
    assert load_answers(str(path), "sw", "en", ["81"]) == {"81": ("blog post",)}
    with pytest.raises(
        ValueError, match=r"line 2 \(question id 82\): 1 answer turn\(s\) for a question of 2 turns"
    ):
        load_answers(str(path), "sw", "en", ["82"], {"82": 2})
