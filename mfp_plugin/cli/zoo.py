"""``mfp zoo list|info``: browse the model zoo.

``mfp zoo list --pretrained`` marks with ``*`` the tag ``create_model(arch,
pretrained=True)`` (and ``mfp eval arch``) loads: each architecture's default.
"""
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
                    help="list the pretrained configs (arch.tag) instead of architectures; "
                         "* marks each architecture's default tag")
    pl.add_argument("--json", action="store_true", help="print a JSON list")
    pl.set_defaults(func=run_list)
    pi = zsub.add_parser("info", help="show a model's config (pretrained cfg if any, else defaults)")
    pi.add_argument("name", help="arch or arch.tag")
    pi.add_argument("--json", action="store_true", help="print JSON")
    pi.set_defaults(func=run_info)
    return p


def _default_tag(name: str):
    """The ``arch.tag`` that ``arch`` (the architecture of ``name``) loads by default, or None."""
    import model_zoo

    cfg = model_zoo.get_pretrained_cfg(model_zoo.split_model_name(name)[0])
    return None if cfg is None else cfg.name


def _default_tags(names: list[str]) -> set:
    return {_default_tag(n) for n in names}


def _list_pretrained(names: list[str]) -> None:
    defaults = _default_tags(names)
    for n in names:
        cfg = _cfg_dict(n)
        top1 = cfg.get("top1")
        mark = "*" if n in defaults else " "
        print(f"{mark} {n:<40} {str(cfg.get('dataset') or ''):<14} T={cfg.get('T')!s:<3} "
              f"top1={top1 if top1 is not None else '-'}")
    print("(* = default tag: what `create_model(arch, pretrained=True)` and `mfp eval arch` load)")


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
        _list_pretrained(names)
        return 0
    with_weights = set(model_zoo.list_models(pattern, pretrained=True))
    for n in names:
        cfg = _cfg_dict(n)
        tags = model_zoo.list_pretrained(f"{n}.*")
        print(f"{n:<28} {str(cfg.get('dataset') or ''):<14} "
              f"{'x'.join(str(v) for v in cfg.get('input_size') or ()):<10} "
              f"{'pretrained: ' + ', '.join(tags) if n in with_weights else 'no trained weights yet'}")
    return 0


def _cfg_dict(name: str) -> dict:
    """The architecture's default config, overlaid with the (default) pretrained config's non-empty fields."""
    import model_zoo

    base = dict(model_zoo.get_default_cfg(name))
    pcfg = model_zoo.get_pretrained_cfg(name)
    if pcfg is not None:
        base.update({k: v for k, v in pcfg.to_dict().items() if v is not None})
    return base


def run_info(args: argparse.Namespace) -> int:
    import model_zoo

    from . import checks

    checks.model_name(args.name)
    has_cfg = model_zoo.get_pretrained_cfg(args.name) is not None
    cfg = _cfg_dict(args.name)
    cfg.setdefault("name", args.name)
    cfg["pretrained_weights"] = (("available" if model_zoo.pretrained_available(args.name, allow_download=True)
                                  else "missing") if has_cfg else "none ship yet")
    cfg["pretrained_tags"] = model_zoo.list_pretrained(f"{model_zoo.split_model_name(args.name)[0]}.*")
    cfg["default_tag"] = _default_tag(args.name)
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
