"""Quality gates that do not trust the rater.

- relevance.py: does the response answer the instruction, judged by a multilingual encoder
- rater.py: the rater's negative controls (matched vs mismatched pairs) and its AUC
"""
