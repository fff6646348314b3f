"""Evidence studies (docs/results.md): does each design choice earn its place on this benchmark?

One module per study, each with ``NAME``, ``TITLE``, ``run(settings, log) -> result``,
``summary(result)`` (the key table), ``FIGURES`` and ``figures(result, folder)``, and
``markdown(...)`` (its section of docs/results.md, or of the study's own ``DOC``). ``perception study NAME`` /
``tools/study.py NAME`` runs one.
"""
from importlib import import_module

#: study name -> module (imported when the study runs)
STUDIES = {
    'subsets': 'perception.studies.sensor_subsets',
    'mnar': 'perception.studies.mnar',
    'multitask': 'perception.studies.multitask',
    'experts': 'perception.studies.experts',
    'peers': 'perception.studies.peers',
    'real_rgbt': 'perception.studies.real_rgbt',
    'pretraining': 'perception.studies.pretraining',
    'budget': 'perception.studies.budget',
}


def get_study(name: str):
    if name not in STUDIES:
        raise KeyError(f'unknown study {name!r}; studies: {", ".join(STUDIES)}')
    return import_module(STUDIES[name])
