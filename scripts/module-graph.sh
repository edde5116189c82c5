#!/usr/bin/env bash
# Prints a crate's intra-crate module import graph and fails on a circle.
#
#   scripts/module-graph.sh alerter                 graph + cycle check
#   scripts/module-graph.sh enroll-server --quiet   cycle check only
#   scripts/module-graph.sh notifier --allow dispatch
#
# Nodes are the crate's file modules, reached from src/lib.rs (or src/main.rs)
# through `mod x;`: `a/b.rs` is `a::b`, `a.rs` or `a/mod.rs` is `a`; the root
# file is no node. Inline modules (`mod tests { ... }`) belong to their file.
# An edge A -> B is a path into B written in A: `crate::b::...`,
# `super::...` (from `a::b`, `super::x` is `a::x` if that is a module, else
# `a`), `self::...`, or a `use` of a child module by its bare name. A path
# ends at the deepest module it names; a name that module re-exports
# (`pub use inner::Name;`) is followed to where it comes from. `pub use`
# itself is naming, not depending, and makes no edge; nor does `mod x;`.
#
# A circle is a strongly connected component of two or more nodes (or a node
# importing itself through a re-export). Components whose nodes all lie
# under an allowed prefix are reported but pass: `--allow PREFIX`, plus the
# ALLOW table below.
#
# Exit status: 0 no circle, 1 circle found, 2 usage error.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec python3 - "$here" "$@" <<'PY'
import os
import re
import sys

# Circles that are allowed, per crate: the PromQL evaluator recurses
# through its parts (eval -> aggregate/binary/functions -> eval).
ALLOW = {
    "alerter": ["promql"],
}

root_dir, args = sys.argv[1], sys.argv[2:]
crate, allow, quiet = None, [], False
i = 0
while i < len(args):
    a = args[i]
    if a == "--allow" and i + 1 < len(args):
        allow.append(args[i + 1])
        i += 2
        continue
    if a == "--quiet":
        quiet = True
    elif a in ("-h", "--help"):
        print("usage: module-graph.sh CRATE_DIR [--allow MODULE_PREFIX]... [--quiet]")
        sys.exit(0)
    elif crate is None:
        crate = a
    else:
        sys.exit("module-graph: unexpected argument %r" % a)
    i += 1
if crate is None:
    print("usage: module-graph.sh CRATE_DIR [--allow MODULE_PREFIX]... [--quiet]", file=sys.stderr)
    sys.exit(2)

crate_dir = crate if os.path.isdir(crate) else os.path.join(root_dir, crate)
src = os.path.join(crate_dir, "src")
root_file = next((os.path.join(src, f) for f in ("lib.rs", "main.rs")
                  if os.path.isfile(os.path.join(src, f))), None)
if root_file is None:
    print("module-graph: no src/lib.rs or src/main.rs under %s" % crate_dir, file=sys.stderr)
    sys.exit(2)
allow += ALLOW.get(os.path.basename(os.path.normpath(crate_dir)), [])

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
MOD_DECL = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(" + IDENT + r")\s*;")
INLINE_MOD = re.compile(r"^(\s*)(?:pub(?:\([^)]*\))?\s+)?mod\s+" + IDENT + r"\s*\{")
PATH_ATTR = re.compile(r'#\[path\s*=\s*"([^"]+)"\]')


def strip_comment(line):
    """The line without a `//` comment (string contents are kept as is)."""
    out, in_str, k = [], False, 0
    while k < len(line):
        c = line[k]
        if in_str:
            if c == "\\":
                out.append(line[k:k + 2])
                k += 2
                continue
            if c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif line.startswith("//", k):
            break
        out.append(c)
        k += 1
    return "".join(out)


# --- modules -----------------------------------------------------------------
modules = {}  # node name -> file ("" is the root)


def child_file(parent_file, parent_is_dir_owner, name, path_attr):
    base = os.path.dirname(parent_file)
    if path_attr:
        return os.path.normpath(os.path.join(base, path_attr))
    if not parent_is_dir_owner:
        stem = os.path.splitext(os.path.basename(parent_file))[0]
        base = os.path.join(base, stem)
    for cand in (os.path.join(base, name + ".rs"), os.path.join(base, name, "mod.rs")):
        if os.path.isfile(cand):
            return cand
    return None


def walk(node, path):
    modules[node] = path
    owner = node == "" or os.path.basename(path) == "mod.rs"
    pending_path = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = PATH_ATTR.search(line)
            if m:
                pending_path = m.group(1)
                continue
            m = MOD_DECL.match(strip_comment(line))
            if m:
                name = m.group(1)
                child = child_file(path, owner, name, pending_path)
                if child:
                    walk(name if node == "" else node + "::" + name, child)
            if line.strip() and not line.strip().startswith("#["):
                pending_path = None


walk("", root_file)


# --- paths ---------------------------------------------------------------------
def expand(tree):
    """`a::{b, c::{d, e as f}}` -> [[a, b], [a, c, d], [a, c, e]]."""
    tree = tree.strip()
    out = []
    depth, start, parts = 0, 0, []
    # split on top-level commas
    for k, c in enumerate(tree):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(tree[start:k])
            start = k + 1
    parts.append(tree[start:])
    if len(parts) > 1:
        for p in parts:
            out += expand(p)
        return out
    t = tree
    if not t:
        return []
    brace = t.find("{")
    if brace >= 0 and t.endswith("}"):
        prefix = [s for s in t[:brace].split("::") if s.strip()]
        prefix = [s.strip() for s in prefix]
        inner = t[brace + 1:-1]
        return [prefix + rest for rest in expand(inner)] or [prefix]
    t = re.sub(r"\s+as\s+" + IDENT + r"$", "", t)
    return [[s.strip() for s in t.split("::") if s.strip()]]


def statements(path):
    """(is_pub_use, [segments], inline_depth) for each path in the file."""
    text_lines = []
    inline = []  # indentation of open inline modules
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = strip_comment(raw.rstrip("\n"))
            indent = len(line) - len(line.lstrip())
            while inline and line.strip() == "}" and indent == inline[-1]:
                inline.pop()
                line = ""
                break
            text_lines.append((line, len(inline)))
            m = INLINE_MOD.match(line)
            if m:
                inline.append(len(m.group(1)))
    out = []
    k = 0
    while k < len(text_lines):
        line, depth = text_lines[k]
        m = re.match(r"^\s*(pub(?:\([^)]*\))?\s+)?use\s+(.*)$", line)
        if m:
            stmt = m.group(2)
            while ";" not in stmt and k + 1 < len(text_lines):
                k += 1
                stmt += " " + text_lines[k][0].strip()
            stmt = stmt.split(";", 1)[0]
            is_pub = bool(m.group(1)) and "(" not in (m.group(1) or "")
            for segs in expand(stmt):
                out.append((is_pub, segs, depth))
        else:
            for pm in re.finditer(r"(?<![A-Za-z0-9_:])((?:crate|super|self)(?:::" + IDENT + r")+)", line):
                out.append((False, pm.group(1).split("::"), depth))
        k += 1
    return out


def children(node):
    pre = node + "::" if node else ""
    return {n[len(pre):] for n in modules if n.startswith(pre) and n != node and "::" not in n[len(pre):]}


def absolute(node, segs, depth):
    """Absolute segments of a path written in `node`, or None if external."""
    segs = [s for s in segs if s not in ("*",)]
    if not segs:
        return None
    base = node.split("::") if node else []
    if segs[0] == "crate":
        return segs[1:]
    if segs[0] in ("self", "super"):
        # inline modules: `super` first leaves them
        while segs and segs[0] == "super" and depth > 0:
            segs = segs[1:]
            depth -= 1
        if segs and segs[0] == "self":
            return base + segs[1:]
        while segs and segs[0] == "super":
            if not base:
                return None
            base = base[:-1]
            segs = segs[1:]
        return base + segs
    if depth == 0 and segs[0] in children(node):
        return base + segs
    return None


reexports = {}  # node -> {name: absolute segments}
uses = {}  # node -> list of absolute segments (edges)
for node, path in modules.items():
    reexports[node], uses[node] = {}, []
    for is_pub, segs, depth in statements(path):
        target = absolute(node, segs, depth)
        if target is None:
            continue
        if is_pub and depth == 0:
            reexports[node][segs[-1]] = target
        else:
            uses[node].append(target)


def resolve(segs, seen=None):
    """The module a path ends in, following re-exports; None for the root."""
    seen = seen or set()
    best, k = "", 0
    for j in range(1, len(segs) + 1):
        name = "::".join(segs[:j])
        if name in modules:
            best, k = name, j
        else:
            break
    rest = segs[k:]
    if rest and rest[0] in reexports.get(best, {}) and (best, rest[0]) not in seen:
        seen.add((best, rest[0]))
        return resolve(reexports[best][rest[0]] + rest[1:], seen)
    return best or None


edges = {n: set() for n in modules if n}
for node in edges:
    for segs in uses[node]:
        target = resolve(segs)
        if target and target != node:
            edges[node].add(target)

# --- output --------------------------------------------------------------------
name = os.path.basename(os.path.normpath(crate_dir))
if not quiet:
    print("# module graph of %s (%d modules)" % (name, len(edges)))
    for n in sorted(edges):
        print("%s -> %s" % (n, ", ".join(sorted(edges[n])) if edges[n] else "(none)"))

# Tarjan's strongly connected components.
index, low, on, stack, sccs, counter = {}, {}, set(), [], [], [0]
sys.setrecursionlimit(10000)


def strong(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in sorted(edges[v]):
        if w not in index:
            strong(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            sccs.append(sorted(comp))


for v in sorted(edges):
    if v not in index:
        strong(v)


def allowed(comp):
    return any(all(n == p or n.startswith(p + "::") for n in comp) for p in allow)


bad = 0
for comp in sccs:
    ok = allowed(comp)
    bad += 0 if ok else 1
    where = [n + " -> " + ", ".join(sorted(edges[n] & set(comp))) for n in comp]
    print("%s circle: %s" % ("allowed" if ok else "CIRCLE", "; ".join(where)),
          file=sys.stdout if ok else sys.stderr)
if bad:
    print("module-graph: %s has %d module circle(s)" % (name, bad), file=sys.stderr)
    sys.exit(1)
print("module-graph: %s: no circles%s" % (name, " (allowed: " + ", ".join(allow) + ")" if allow else ""))
PY
