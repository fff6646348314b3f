"""``perception study NAME`` / ``tools/study.py NAME``: run one evidence study, write its section.

Each study trains its models (cached by config under ``<work-dir>/models``), evaluates them on
held-out synthetic frames, prints its key table and the wall time, and -- unless ``--quick`` or
``--no-docs`` -- rewrites its section of ``docs/results.md`` (``real_rgbt``: of
``docs/real_rgbt.md``, ``pretraining``: of ``docs/pretraining.md``), its figures in
``docs/images/results/`` and its results in ``docs/study_results/NAME.json``.

The results kept beside the docs outlive the machine that ran the study: ``--render`` rewrites a
section from them when the work dir is gone, and a study trained on several seeds (``budget``) joins
a run of new seeds (``--seeds 2``) to the seeds kept there, in the same setting, instead of
replacing them -- each seed's run says which command, day and CPU produced it. An extra seed of a
one-seed study (``--seed 1 --no-docs --keep-results``) keeps its results as
``docs/study_results/NAME_seed1.json`` for the tables that cite it, leaving the section alone.
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import shlex
import shutil
import time

HELP_EPILOG = """studies:
  subsets    full model on all 7 sensor subsets per condition vs single-sensor models
  mnar       scene-tied missingness: attention fusion + modality dropout vs plain concat fusion
  multitask  MoE multi-task vs 3 single-task models vs plain shared decoder (+ params/FLOPs/latency)
  experts    gate maps, expert usage per task and level, effect of the load-balancing term
  peers      nano vs SegFormer-B0 / RTMDet-tiny (RGB and 5-channel early fusion) and a depth-only
             model: accuracy per condition, latency in PyTorch and ONNX Runtime
  real_rgbt  real RGB-thermal detection (MSRS, LLVIP): synthetic-only, real-only and mixed nano vs
             RTMDet-tiny RGB / RGB+T, two seeds; writes docs/real_rgbt.md (~4 h on 2 cores)
  pretraining  masked multi-sensor pretraining vs from scratch at 1/10/100 % of the labels, and on
             every sensor subset; writes docs/pretraining.md's label-efficiency section (~35 min)
  budget     the deciding comparisons (attention vs concat fusion, MoE vs equal-latency plain
             decoder) at 1x, 2x and 4x the iterations, seeds 0, 1 and 2: learning curves
             (~1 h per seed; --seeds 2 joins a new seed to those kept in docs/study_results)
  all        every study, one after the other (models shared between studies are trained once)

examples:
  perception study subsets                 # ~20-30 min on 2 CPU cores, updates docs/results.md
  perception study mnar --quick            # pipeline check in a minute or two; numbers meaningless
"""
DOC = 'docs/results.md'
IMAGES = 'images/results'   # relative to the doc
KEPT = 'study_results'      # relative to the doc: NAME.json, the results a section was written from


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from perception.studies import STUDIES
    parser.epilog = HELP_EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument('study', choices=list(STUDIES) + ['all'])
    parser.add_argument('--quick', action='store_true',
                        help='tiny models, frames and iterations: checks the pipeline, not the '
                             'conclusion (never written to the docs)')
    parser.add_argument('--seed', type=int, default=0,
                        help='training seed and base seed of the train/test frames (default 0)')
    parser.add_argument('--seeds', type=int, nargs='+',
                        help='studies trained on several seeds (real_rgbt, budget): train and '
                             'report only these (default: all the study\'s seeds); the docs say '
                             'which ran')
    parser.add_argument('--iters', type=int, help='training iterations per model (default 500)')
    parser.add_argument('--test-frames', type=int, help='held-out frames per evaluation '
                        '(default 280)')
    parser.add_argument('--work-dir', help='models, logs, results.json and figures '
                        '(default work_dirs/studies, or work_dirs/studies_quick with --quick)')
    parser.add_argument('--doc', default=None,
                        help=f'the results document (default: the study\'s own, else {DOC})')
    parser.add_argument('--no-docs', action='store_true', help='do not touch the docs')
    parser.add_argument('--keep-results', action='store_true',
                        help='with --no-docs: still keep this run\'s results beside the docs, as '
                             'study_results/NAME_seedN.json (an extra seed a section\'s tables '
                             'cite), without this machine\'s work dir; the section is untouched')
    parser.add_argument('--render', action='store_true',
                        help='rewrite the docs section from the saved results.json and figures '
                             '(no training; e.g. after editing how a study reports)')


def settings_from(args: argparse.Namespace):
    from perception.studies.common import Settings
    work_dir = args.work_dir or ('work_dirs/studies_quick' if args.quick else 'work_dirs/studies')
    overrides = dict(work_dir=work_dir, seed=args.seed)
    if args.iters:
        overrides['iters'] = args.iters
    if args.test_frames:
        overrides['test_frames'] = args.test_frames
    if getattr(args, 'seeds', None):
        overrides['seeds'] = tuple(args.seeds)
    return Settings.quick_settings(**overrides) if args.quick else Settings(**overrides)


def command_line(name: str, args: argparse.Namespace) -> str:
    """The command that reproduces this study's run (written next to its results). An absolute
    ``--work-dir`` is where this machine kept the files, not part of what a reader types: left out
    (a relative one, shared by several studies' caches, is kept)."""
    parts = ['python tools/study.py', name]
    if args.quick:
        parts.append('--quick')
    work_dir = None if args.work_dir is None or osp.isabs(args.work_dir) else args.work_dir
    for flag, value, default in (('--seed', args.seed, 0), ('--iters', args.iters, None),
                                 ('--test-frames', args.test_frames, None),
                                 ('--work-dir', work_dir, None)):
        if value != default:
            parts += [flag, shlex.quote(str(value))]
    if getattr(args, 'seeds', None):
        parts += ['--seeds'] + [str(s) for s in args.seeds]
    return ' '.join(parts)


def run_one(name: str, settings, args: argparse.Namespace, command: str) -> float:
    """Run the study (or, with ``--render``, reload its results.json), print, update the docs."""
    import json
    from dataclasses import asdict

    from perception.hardware import cpu_info
    from perception.studies import get_study
    from perception.studies.common import Settings, save_json
    from perception.studies.report import minutes
    study = get_study(name)
    folder = osp.join(settings.work_dir, name)
    results_path = osp.join(folder, 'results.json')
    doc = args.doc or getattr(study, 'DOC', DOC)
    kept_path = kept_results_path(doc, name)
    if args.render:
        if not osp.isfile(results_path) and not osp.isfile(kept_path):
            raise FileNotFoundError(f'--render needs {results_path} or the results kept beside '
                                    f'the docs, {kept_path}: run the study first')
        source = results_path if osp.isfile(results_path) else kept_path
        print(f'   rendering from {source}', flush=True)
        with open(source) as f:
            result = json.load(f)
        run = result['run']
        settings = Settings(**run['settings'])
        os.makedirs(folder, exist_ok=True)
        figures = study.figures(result, folder)
    else:
        os.makedirs(folder, exist_ok=True)
        describe = getattr(study, 'describe', None) or (lambda s: s.describe())
        print(f'== {study.TITLE} ({describe(settings)})', flush=True)
        t0 = time.time()
        result = study.run(settings, log=lambda m: print(m, flush=True))
        result['run'] = dict(settings=asdict(settings), command=command,
                             seconds=time.time() - t0, date=time.strftime('%Y-%m-%d'),
                             cpus=os.cpu_count(), cpu=cpu_info()['model'])
        join = getattr(study, 'join', None)   # studies of several seeds: stamp, add kept seeds
        if join is not None:
            kept = None
            if osp.isfile(kept_path):
                with open(kept_path) as f:
                    kept = json.load(f)
            result = join(kept, result, log=lambda m: print(m, flush=True))
            settings = Settings(**result['run']['settings'])   # the seeds joined included
        figures = study.figures(result, folder)   # once, from every seed the result holds
        result = {k: v for k, v in result.items() if k != 'pictures'}   # arrays: in the figures
        save_json(result, results_path)
    seconds = result['run']['seconds']
    print(study.summary(result))
    print(f'== {name}: {minutes(seconds)} wall time; results, figures and logs in {folder}/',
          flush=True)
    if not (settings.quick or args.no_docs):
        write_docs(study, result, settings, figures, doc)
    elif getattr(args, 'keep_results', False):
        path = kept_results_path(doc, name, seed=settings.seed)
        keep_results(result, path)
        print(f'   results kept as {path} (section of {doc} untouched)', flush=True)
    return seconds


def kept_results_path(doc: str, name: str, seed: int | None = None) -> str:
    """Where the results a study's section was written from are kept, beside its doc; with
    ``seed``, those of an extra seed's ``--no-docs --keep-results`` run (``NAME_seedN.json``)."""
    stem = name if seed is None else f'{name}_seed{seed}'
    return osp.join(osp.dirname(doc), KEPT, f'{stem}.json')


def keep_results(result: dict, path: str) -> None:
    """Save a run's results beside the docs; an absolute work dir is where this machine kept the
    files (as in ``command_line``): replaced by the default, the rest kept as run."""
    from perception.studies.common import Settings, save_json
    kept = dict(result, run=dict(result['run'], settings=dict(result['run']['settings'])))
    if osp.isabs(kept['run']['settings'].get('work_dir', '')):
        kept['run']['settings']['work_dir'] = Settings.work_dir
    save_json(kept, path)


def check_keep_results(args: argparse.Namespace, names) -> None:
    """``--keep-results`` is for an extra seed's ``--no-docs`` run of a one-seed study: say the fix
    before anything trains."""
    if not getattr(args, 'keep_results', False):
        return
    from perception.studies import get_study
    if args.quick:
        raise SystemExit('--keep-results: quick numbers never reach the docs; drop --quick')
    if not args.no_docs:
        raise SystemExit('--keep-results goes with --no-docs: without it the study rewrites its '
                         'section and keeps its results beside the docs already')
    joined = [n for n in names if getattr(get_study(n), 'join', None) is not None]
    if joined:
        raise SystemExit(f'--keep-results: {", ".join(joined)} join(s) new seeds to the seeds '
                         f'kept beside the docs; run it without --no-docs and with --seeds N')


def write_docs(study, result: dict, settings, figures, doc: str) -> None:
    from perception.studies.report import splice_section
    keep_results(result, kept_results_path(doc, study.NAME))
    images = osp.join(osp.dirname(doc), IMAGES)
    os.makedirs(images, exist_ok=True)
    for path in figures:
        shutil.copyfile(path, osp.join(images, osp.basename(path)))
    run = result['run']
    body = study.markdown(result, settings, run['command'], IMAGES)
    body += '\n' + footer(run, joined=getattr(study, 'join', None) is not None) + '\n'
    splice_section(doc, study.NAME, body)
    print(f'   section "{study.NAME}" of {doc} updated', flush=True)


def footer(run: dict, joined: bool = False) -> str:
    """The section's last line: wall time, cores, CPU model and day of the run that wrote it. A
    study that joins kept seeds (``budget``) holds runs of other days and CPUs, listed in its
    section: its footer times the last run only and says so."""
    from perception.studies.report import minutes
    cpu = f", {run['cpu']}" if run.get('cpu') else ''   # older kept results have none
    last = f" for its last run (`{run['command']}`)" if joined else ''
    tail = "; each seed's run is listed at the top of the section" if joined else ''
    return (f"Wall time of this study: {minutes(run['seconds'])}{last} on {run['cpus']} CPU "
            f"cores{cpu} ({run['date']}){tail}.")


def run(args: argparse.Namespace) -> int:
    import warnings

    import perception.registry  # noqa: F401
    # mmseg warns at every head build that its own build_loss is deprecated: noise in a long log
    warnings.filterwarnings('ignore', message='``build_loss`` would be deprecated')
    from perception.studies import STUDIES
    from perception.studies.report import minutes
    settings = settings_from(args)
    names = list(STUDIES) if args.study == 'all' else [args.study]
    check_keep_results(args, names)
    total = 0.0
    for name in names:
        command = command_line(name, args)
        total += run_one(name, settings, args, command)
    if len(names) > 1:
        print(f'== all studies: {minutes(total)} wall time')
    return 0
