"""Helpers for the corpus and prepare tests: short natural paragraphs written for these tests
(Swahili, English, Hindi), so they run without ../shared/data, and a writer for local folders
laid out like a Hub dataset repo (what `load_dataset(folder, config, streaming=True)` reads)."""

from __future__ import annotations

from pathlib import Path

import yaml

SWAHILI = [
    "Mvua kubwa iliyonyesha usiku wa kuamkia leo imesababisha mafuriko katika mitaa kadhaa ya jiji "
    "la Dar es Salaam. Wakazi wa maeneo ya mabondeni wameshauriwa kuhamia sehemu za juu hadi maji "
    "yatakapopungua.",
    "Wakulima wa kahawa mkoani Kilimanjaro wanasema bei ya zao hilo imepanda mwaka huu. Hata hivyo, "
    "wanalalamika kuhusu gharama kubwa za mbolea na ukosefu wa mvua za kutosha wakati wa msimu wa kupanda.",
    "Shule ya msingi ya kijiji chetu imepata maktaba mpya iliyojengwa kwa msaada wa wazazi na wadau wa "
    "elimu. Wanafunzi sasa wanaweza kuazima vitabu vya hadithi na kusoma nyumbani baada ya masomo.",
    "Ili kupika wali wa nazi, osha mchele vizuri kisha uuchemshe kwenye tui la nazi lililochanganywa na "
    "chumvi kidogo. Punguza moto maji yanapokauka na funika sufuria hadi wali uive kabisa.",
    "Timu ya taifa ya mpira wa miguu imeanza mazoezi kujiandaa na mechi ya kufuzu dhidi ya majirani zao "
    "wiki ijayo. Kocha amesema wachezaji wote wako katika hali nzuri na wana ari ya kushinda.",
]

ENGLISH = [
    "The city council approved a new budget on Tuesday that increases spending on public transport and "
    "road repairs, while the mayor promised that local taxes would not rise next year.",
    "Farmers in the valley have started harvesting their maize early this season because the rains ended "
    "sooner than expected, and traders say prices at the market are already falling.",
]

# "This is an example sentence in which the vowel signs are intact." (Hindi)
HINDI = "यह एक उदाहरण वाक्य है जिसमें सभी मात्राएँ सही जगह पर लिखी गई हैं और पढ़ने में कोई कठिनाई नहीं होती।"


def write_hub_folder(
    root: Path, configs: dict[str, dict[str, list[dict]]], rows_per_file: int = 0
) -> Path:
    """Parquet under data/{config}/{split}/ plus the README `configs:` YAML the Hub uses.

    `rows_per_file` > 0 splits each split into several files, as real repos are sharded.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    card = []
    for config, splits in configs.items():
        data_files = []
        for split, rows in splits.items():
            folder = root / "data" / config / split
            folder.mkdir(parents=True, exist_ok=True)
            step = rows_per_file or max(1, len(rows))
            for n, start in enumerate(range(0, max(1, len(rows)), step)):
                pq.write_table(
                    pa.Table.from_pylist(rows[start : start + step]), folder / f"{n:05d}.parquet"
                )
            data_files.append({"split": split, "path": f"data/{config}/{split}/*.parquet"})
        card.append({"config_name": config, "data_files": data_files})
    (root / "README.md").write_text(
        "---\n" + yaml.safe_dump({"configs": card}) + "---\n", encoding="utf-8"
    )
    return root
