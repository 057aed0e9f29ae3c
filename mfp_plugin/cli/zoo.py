"""``mfp zoo list|info``: browse the model zoo."""
from __future__ import annotations

import argparse
import json

__all__ = ["add_parser", "run_list", "run_info"]


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("zoo", help="list models and show their configs",
                       description="Browse model_zoo: architectures, pretrained tags and configs.")
    zsub = p.add_subparsers(dest="zoo_command", metavar="{list,info}")
    zsub.required = True
    pl = zsub.add_parser("list", help="list architectures (or pretrained tags with --pretrained)")
    pl.add_argument("pattern", nargs="?", default="*", help="fnmatch pattern, e.g. 'mf_vgg*'")
    pl.add_argument("--pretrained", action="store_true",
                    help="list the pretrained configs (arch.tag) instead of architectures")
    pl.add_argument("--json", action="store_true", help="print a JSON list")
    pl.set_defaults(func=run_list)
    pi = zsub.add_parser("info", help="show a model's config (pretrained cfg if any, else defaults)")
    pi.add_argument("name", help="arch or arch.tag")
    pi.add_argument("--json", action="store_true", help="print JSON")
    pi.set_defaults(func=run_info)
    return p


def _weights_state(name: str) -> str:
    from .evaluate import pretrained_available
    return "weights" if pretrained_available(name) else "-"


def run_list(args: argparse.Namespace) -> int:
    import model_zoo

    pattern = args.pattern if any(ch in args.pattern for ch in "*?[") else f"*{args.pattern}*"
    names = model_zoo.list_pretrained(pattern) if args.pretrained else model_zoo.list_models(pattern)
    if args.json:
        print(json.dumps(names))
        return 0
    if not names:
        print(f"no {'pretrained configs' if args.pretrained else 'models'} match {args.pattern!r}")
        return 0
    if args.pretrained:
        for n in names:
            cfg = _cfg_dict(n)
            top1 = cfg.get("top1")
            print(f"{n:<40} {str(cfg.get('dataset') or ''):<14} T={cfg.get('T')!s:<3} "
                  f"top1={top1 if top1 is not None else '-'}")
    else:
        with_weights = set(model_zoo.list_models(pattern, pretrained=True))
        for n in names:
            cfg = _cfg_dict(n)
            tags = model_zoo.list_pretrained(f"{n}.*")
            print(f"{n:<28} {str(cfg.get('dataset') or ''):<14} "
                  f"{'x'.join(str(v) for v in cfg.get('input_size') or ()):<10} "
                  f"{'pretrained: ' + ', '.join(tags) if n in with_weights else 'no trained weights yet'}")
    return 0


def _cfg_dict(name: str) -> dict:
    import model_zoo

    try:
        pcfg = model_zoo.get_pretrained_cfg(name)
    except Exception:
        pcfg = None
    if pcfg is not None:
        d = pcfg.to_dict() if hasattr(pcfg, "to_dict") else dict(pcfg)
        base = {}
        if hasattr(model_zoo, "get_default_cfg"):
            base = dict(model_zoo.get_default_cfg(name))
        base.update({k: v for k, v in d.items() if v is not None})
        return base
    if hasattr(model_zoo, "get_default_cfg"):
        return dict(model_zoo.get_default_cfg(name))
    return {}


def run_info(args: argparse.Namespace) -> int:
    import model_zoo

    try:
        pcfg = model_zoo.get_pretrained_cfg(args.name)
    except (ValueError, KeyError) as exc:
        raise SystemExit(f"error: {exc}")
    cfg = _cfg_dict(args.name)
    cfg.setdefault("name", args.name)
    cfg["pretrained_weights"] = (("available" if _weights_state(args.name) == "weights" else "missing")
                                 if pcfg is not None else "none ship yet")
    tags = model_zoo.list_pretrained(f"{args.name.split('.')[0]}.*")
    cfg["pretrained_tags"] = tags
    if args.json:
        print(json.dumps(cfg, indent=2, default=str))
        return 0
    width = max(len(k) for k in cfg)
    for k in sorted(cfg, key=lambda k: (k != "name", k)):
        v = cfg[k]
        if isinstance(v, (list, tuple, dict)):
            v = json.dumps(v, default=str)
        print(f"{k:<{width}}  {v}")
    return 0
