"""The paper's BibTeX entry, in one place for the card, the builder class and the metrics."""

CITATION = """\
@inproceedings{li-etal-2024-x,
    title = "{X}-Instruction: Aligning Language Model in Low-resource Languages with Self-curated Cross-lingual Instructions",
    author = "Li, Chong and Yang, Wen and Zhang, Jiajun and Lu, Jinliang and Wang, Shaonan and Zong, Chengqing",
    booktitle = "Findings of the Association for Computational Linguistics: ACL 2024",
    year = "2024",
    publisher = "Association for Computational Linguistics",
    url = "https://aclanthology.org/2024.findings-acl.30/",
    doi = "10.18653/v1/2024.findings-acl.30",
}
"""
