"""Meta-talk (builder/corpus/meta_talk.py): a chat model talking about the request is dropped in
prepare under its own reason; human-written text in the ten languages is not."""

from __future__ import annotations

import json

import pytest

from builder.corpus.meta_talk import meta_talk
from builder.languages import PAPER_LANGUAGES
from builder.stages.prepare import Prepare, PrepareConfig

from _prepare_helpers import TokenCounter, iter_prepare

SW_META = ("Sawa, nimeelewa ombi lako kikamilifu. Nitakuandikia maneno 30,000 kuhusu historia ya Pwani ya "
           "Afrika Mashariki, nikianza na biashara ya Bahari ya Hindi na kuendelea hadi uhuru wa nchi za eneo hili.")
SW_TEXT = ("Serikali imepokea ombi la wakulima wa mahindi la kununua mazao yao kwa bei ya juu zaidi msimu huu, "
           "na waziri amesema uamuzi utatolewa wiki ijayo baada ya kikao cha baraza la mawaziri.")


@pytest.mark.parametrize("lang, text", [
    ("sw", SW_META),
    ("id", "Tentu, saya mengerti permintaan Anda. Berikut adalah artikel yang Anda minta tentang sejarah Batik."),
    ("tr", "İsteğinizi anladım. İşte istediğiniz makale: Türkiye'nin en güzel kıyı kasabaları."),
    ("vi", "Tôi đã hiểu yêu cầu của bạn. Dưới đây là bài viết bạn cần về lịch sử Hà Nội."),
    ("hi", "आपके अनुरोध के अनुसार, यहाँ भारत के इतिहास पर एक लेख है।"),
    ("th", "ตามคำขอของคุณ นี่คือบทความเกี่ยวกับประวัติศาสตร์ของกรุงเทพมหานคร"),
    ("fi", "As an AI language model, I cannot browse the internet, mutta voin kertoa Suomen historiasta."),
])
def test_a_model_talking_about_the_request_is_meta_talk(lang, text):
    assert meta_talk(text, lang)


def test_the_same_words_in_ordinary_text_are_not():
    assert meta_talk(SW_TEXT, "sw") is None  # "ombi la wakulima": someone else's request
    closing = "Umati ulikusanyika mapema. " * 30 + "Natumaini hii itakusaidia kupanga safari yako."
    assert meta_talk(closing, "sw")  # a model's sign-off at the end counts
    middle = "Umati ulikusanyika mapema. " * 20 + "ombi lako " + "Umati ulikusanyika mapema. " * 20
    assert meta_talk(middle, "sw") is None  # only the opening and the closing are read


def test_no_human_written_text_in_the_ten_languages_is_flagged(shared_data):
    for lang in PAPER_LANGUAGES:
        rows = (shared_data / "udhr" / f"{lang}.jsonl").read_text("utf-8").splitlines()
        assert not [t for t in (json.loads(r)["text"] for r in rows) if meta_talk(t, lang)], lang


def test_prepare_drops_meta_talk_with_its_own_reason(embedded_model_dir):
    from transformers import AutoTokenizer

    block = Prepare("sw", PrepareConfig(), TokenCounter(AutoTokenizer.from_pretrained(embedded_model_dir)))
    rows = [{"text": t, "source": {"corpus": "t", "config": None, "split": "train", "row": str(i)}}
            for i, t in enumerate([SW_META, SW_TEXT])]
    out = list(iter_prepare(rows, block))
    assert [r["dropped"] for r in out] == ["meta_talk", None]
    assert block.counts["dropped"]["meta_talk"] == 1
