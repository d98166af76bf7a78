"""Quality gates that do not trust the rater.

- relevance.py: does the response answer the instruction, judged by a multilingual encoder
- seed_reference.py: what the embedded seed pairs tell the relevance gate: a pool of mismatched
  instructions, a known control for the encoder, and the floor a kept pair must reach
- rater.py: the rater's negative controls (matched vs mismatched pairs) and its AUC
- report.py: how the gates' AUCs (with intervals, none below 10 pairs) and warnings read
"""
