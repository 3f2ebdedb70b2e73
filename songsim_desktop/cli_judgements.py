"""CLI commands of issue 11: ``songsim judge REF RESULT --like|--dislike`` and ``songsim judgements``.

(``songsim train --judgements`` is an option of the train command in cli.py.)
"""

from __future__ import annotations

import json
import os
import sys


def add_commands(sub) -> None:
    p = sub.add_parser("judge", help="say RESULT is (--like) or is not (--dislike) like REF; fine-tuning learns from it")
    p.add_argument("reference", metavar="REF", help="the reference file (in the library or not)")
    p.add_argument("result", metavar="RESULT", help="a library track (its file path)")
    sign = p.add_mutually_exclusive_group(required=True)
    sign.add_argument("--like", dest="sign", action="store_const", const=1)
    sign.add_argument("--dislike", dest="sign", action="store_const", const=-1)
    p.add_argument("--section", nargs=2, type=float, metavar=("START", "END"),
                   help="the judgement is about this section (seconds) of REF")

    p = sub.add_parser("judgements", help="list the stored judgements (and odd-one-out answers)")
    p.add_argument("--json", action="store_true", help="one JSON object with all of them")
    p.add_argument("--export", metavar="FILE.json", help="write them, by file path, to a JSON file")


def _library_track(service, path: str):
    return service.library.track_by_path(os.path.realpath(path)) or service.library.track_by_path(os.path.abspath(path))


def cmd_judge(service, args, cancel) -> int:
    from songsim_desktop.cli import UsageError
    from songsim_desktop.core.library.judgements import JudgementReference

    result = _library_track(service, args.result)
    if result is None:
        raise UsageError(f"while judging {args.result}: not in the library (index its folder first)")
    if not os.path.exists(args.reference):
        raise UsageError(f"while judging against {args.reference}: no such file")
    ref_track = _library_track(service, args.reference)
    start, end = args.section if args.section else (None, None)
    reference = JudgementReference(ref_track.id if ref_track else None,
                                   None if ref_track else os.path.realpath(args.reference), start, end)
    if ref_track is not None and ref_track.id == result.id:
        raise UsageError("a track cannot be judged against itself")
    service.judge(reference, result.id, args.sign)
    print(f"{'liked' if args.sign > 0 else 'disliked'}: {result.path} for {args.reference}")
    return 0


def _export(service) -> dict:
    names = {t.id: t.path for t in service.library.tracks()}
    odd = [{"anchor": names.get(a.anchor_id), "positive": names.get(a.positive_id), "odd": names.get(a.odd_id),
            "made_at": a.made_at, "model_id": a.model_id} for a in service.library.odd_one_out_answers()]
    return {"judgements": service.library.judgement_rows(), "odd_one_out": odd}


def cmd_judgements(service, args, cancel) -> int:
    from songsim_desktop import atomic

    data = _export(service)
    if args.export:
        atomic.write_text(args.export, json.dumps(data, ensure_ascii=False, indent=1))
        print(f"wrote {len(data['judgements'])} judgements and {len(data['odd_one_out'])} odd-one-out answers "
              f"to {args.export}")
    elif args.json:
        print(json.dumps(data, ensure_ascii=False))
    else:
        for j in data["judgements"]:
            section = f" [{j['section_start']:.1f}-{j['section_end']:.1f} s]" if j["section_start"] is not None else ""
            print(f"{'+' if j['sign'] > 0 else '-'} {j['result']}  for {j['reference']}{section}  ({j['made_at']})")
        for a in data["odd_one_out"]:
            print(f"odd one out: {a['odd']}  (not like {a['anchor']} and {a['positive']})")
        if not data["judgements"] and not data["odd_one_out"]:
            print("no judgements yet (songsim judge REF RESULT --like|--dislike)")
    sys.stdout.flush()
    return 0


COMMANDS = {"judge": cmd_judge, "judgements": cmd_judgements}
