"""Training on X-Instruction with TRL: the code behind trl_scripts/ (sft, train_generator,
train_evaluator), importable so the scripts stay short and tests can reach every piece.

    data.py, mixing.py        language configs -> validated, held-out, mixed training rows
    formats.py                how a pair becomes a chat or prompt/completion example
    sft_data.py, seeds.py,    each script's dataset: X-Instruction pairs, backward-model seed
    generator_data.py,        pairs, scored pairs for the rater
    evaluator_data.py
    chat_template.py          templates for base models and for assistant-only loss
    modeling.py               model loading, checkpoints, adapter merging
    callbacks.py, probes.py   the language check (and the rater's score check) during training
    card.py, run.py           the trainer with its model card; train, save, merge, push
"""
