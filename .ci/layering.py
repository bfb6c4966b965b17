#!/usr/bin/env python3
"""The house's rules, checked over src/ (standard library only).

    python3 .ci/layering.py              check; exit 1 with one line per violation
    python3 .ci/layering.py --graph      print the file-level import graph (one "a -> b" per edge)
    python3 .ci/layering.py --self-test  show each rule failing on a deliberate violation

Rules:
  1. layers: a file may import only the layers its own layer is allowed (LAYERS below); in particular
     nothing below http/ names crate::http or AppState;
  2. SQL (sqlx, or a string literal holding a statement) only under storage/;
  3. the crypto crates (ring, josekit) only under crypto/ and pki/;
  4. no file under src/ over 500 lines;
  4b. no handler under http/ calls a storage:: function (the domain layers own reads and writes);
  5. no import loop between files.

Edges: every `use` path and every inline path that starts with crate::, super:: or self:: (or with a
child module's name), resolved to the file that defines the item: a path through a mod.rs that
re-exports the item (`pub use child::Item`) leads to the child, so a mod.rs that is only an index adds
no edge of its own. `mod x;` declarations are not edges. Comments are ignored; so is an item's own
`#[cfg(test)] mod tests` (the tests may import what the file itself may not... they import super::*).
"""

import os
import re
import sys
from collections import defaultdict

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
MAX_LINES = 500

# Layer of a file: the first path segment under src/ (a top-level file is its own layer).
# Each layer may import itself and the layers listed; anything not listed is a violation.
BOTTOM = {"domain", "config", "metrics", "sched"}
LAYERS = {
    # the process: wiring, commands, the demo world
    "main": "*",
    "lib": "*",
    "cli": "*",
    "demo": "*",
    "startup": "*",
    # the web: the only layer that knows HTTP
    "http": {"cluster", "licences", "oidc", "identity", "audit", "pki", "tlog", "crypto", "storage"} | BOTTOM,
    # cross-node notices: applies what other nodes announce to the contexts' caches
    "cluster": {"licences", "oidc", "identity", "audit", "pki", "crypto", "storage"} | BOTTOM,
    # the domain layers, each on the ones below it
    "licences": {"oidc", "identity", "audit", "pki", "tlog", "crypto", "storage"} | BOTTOM,
    "oidc": {"identity", "audit", "crypto", "storage"} | BOTTOM,
    "identity": {"audit", "crypto", "storage", "mail"} | BOTTOM,
    "audit": {"tlog", "crypto", "storage"} | BOTTOM,
    # pure parts
    "pki": {"crypto", "domain"},
    "tlog": {"crypto"},
    "crypto": {"sched", "domain"},
    "mail": {"config"},
    "storage": {"tlog", "crypto", "domain", "config"},
    "domain": set(),
    "config": set(),
    "metrics": set(),
    "sched": set(),
}
SQL_HOME = ("storage",)
CRYPTO_HOME = ("crypto", "pki")
# Files outside the crypto homes that may use a crypto crate, and why.
CRYPTO_EXEMPT = {
    "demo/rp.rs": "the demo's sample portal checks ID tokens with josekit, as any relying party would",
}

SQL_LITERAL = re.compile(
    r"\b(SELECT\s+[\w*(].*\bFROM\b|INSERT\s+INTO\b|UPDATE\s+\w+\s+SET\b|DELETE\s+FROM\b|"
    r"CREATE\s+(TABLE|INDEX)\b|pg_advisory\w*|BEGIN\s+IMMEDIATE\b)",
    re.S,
)
CRYPTO_CRATE = re.compile(r"(?<![\w:])(ring|josekit)::")
# A handler calling storage itself (types such as rows and StorageError may still be named).
STORAGE_CALL = re.compile(r"(?<![\w:])(?:crate::)?storage::\w+::[a-z_]\w*(?=\s*\()")
SQLX = re.compile(r"(?<![\w:])sqlx::|#\[sqlx")


def starts_token(text, i):
    """Is text[i] the start of a token (or of one after a `b` prefix, as in br"..")?"""
    word = lambda k: k >= 0 and (text[k].isalnum() or text[k] == "_")
    return not word(i - 1) or (text[i - 1] == "b" and not word(i - 2))


def strip_comments(text):
    """Source without comments; string literals kept (returned separately as a list)."""
    out, strings = [], []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == "r" and re.match(r'r#*"', text[i:]) and starts_token(text, i):
            m = re.match(r'r(#*)"', text[i:])
            end = '"' + m.group(1)
            j = text.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            strings.append(text[i:j])
            out.append('""')
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            strings.append(text[i : j + 1])
            out.append('""')
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:]):
            m = re.match(r"'(\\.|[^\\'])'", text[i:])
            out.append("' '")
            i += len(m.group(0))
        else:
            out.append(c)
            i += 1
    return "".join(out), strings


def drop_inline_tests(code):
    """Drop `#[cfg(test)] mod tests { ... }` blocks (braces balanced; strings already blanked)."""
    while True:
        m = re.search(r"#\[cfg\(test\)\]\s*(pub\s+)?mod\s+\w+\s*\{", code)
        if not m:
            return code
        depth, j = 1, m.end()
        while j < len(code) and depth:
            depth += {"{": 1, "}": -1}.get(code[j], 0)
            j += 1
        code = code[: m.start()] + code[j:]


class Crate:
    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.files = {}  # module path (tuple) -> relative file path
        for dirpath, _, names in os.walk(self.root):
            for name in names:
                if not name.endswith(".rs"):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, name), self.root)
                parts = rel[:-3].split(os.sep)
                if parts[-1] == "mod":
                    parts = parts[:-1]
                if parts in (["lib"], ["main"]):
                    parts = [] if parts == ["lib"] else ["<main>"]
                self.files[tuple(parts)] = rel
        self.text = {}
        self.code = {}
        self.strings = {}
        for mod, rel in self.files.items():
            with open(os.path.join(self.root, rel), encoding="utf-8") as f:
                self.text[mod] = f.read()
            code, strings = strip_comments(self.text[mod])
            self.code[mod] = code
            self.strings[mod] = strings
        self.reexports = {mod: self._reexports(mod) for mod in self.files}

    def layer(self, mod):
        rel = self.files[mod]
        first = rel.split(os.sep)[0]
        return first[:-3] if first.endswith(".rs") else first

    def _reexports(self, mod):
        """name -> absolute module path of what `pub use` re-exports under that name."""
        found = {}
        for m in re.finditer(r"\bpub(\([^)]*\))?\s+use\s+([^;]+);", self.code[mod]):
            for path in expand(m.group(2)):
                segs, alias = path
                absolute = self.absolute(mod, segs)
                if absolute:
                    found[alias or segs[-1]] = absolute
        return found

    def absolute(self, mod, segs):
        """Absolute segments of a path written in `mod`, or None for another crate's path."""
        segs = list(segs)
        if not segs:
            return None
        base = list(mod) if mod != ("<main>",) else []
        if segs[0] == "crate":
            return segs[1:]
        if segs[0] in ("self", "super"):
            while segs and segs[0] in ("self", "super"):
                if segs[0] == "super":
                    base = base[:-1]
                segs = segs[1:]
            return base + segs
        if segs[0] == "tongban" and mod == ("<main>",):
            return segs[1:]
        if tuple(base + [segs[0]]) in self.files:  # a child module, named without self::
            return base + segs
        return None

    def resolve(self, segs, seen=0):
        """The file (module path) that defines the item the absolute path names."""
        best = ()
        for k in range(len(segs), -1, -1):
            if tuple(segs[:k]) in self.files:
                best = tuple(segs[:k])
                rest = segs[k:]
                break
        if rest and rest[0] in self.reexports.get(best, {}) and seen < 8:
            target = self.reexports[best][rest[0]]
            return self.resolve(target + rest[1:], seen + 1)
        return best

    def edges(self, mod):
        code = drop_inline_tests(self.code[mod])
        targets = set()
        # `use` trees (pub use in an index file is not an edge of the index: followed at resolution)
        for m in re.finditer(r"\b(pub(\([^)]*\))?\s+)?use\s+([^;]+);", code):
            if m.group(1) and self.is_index(mod):
                continue
            for segs, _ in expand(m.group(3)):
                absolute = self.absolute(mod, segs)
                if absolute is not None:
                    targets.add(self.resolve(absolute))
        code_wo_use = re.sub(r"\buse\s+[^;]+;", "", code)
        for m in re.finditer(r"(?<![\w:])((?:crate|super|self)(?:::\w+)+)", code_wo_use):
            absolute = self.absolute(mod, m.group(1).split("::"))
            if absolute is not None:
                targets.add(self.resolve(absolute))
        targets.discard(mod)
        return targets

    def is_index(self, mod):
        """A mod.rs/lib.rs whose `pub use`s only re-export (a layer's front door)."""
        return self.files[mod].endswith("mod.rs") or mod == ()


def expand(tree):
    """`a::{b, c::{d as e}}` -> [(['a','b'], None), (['a','c','d'], 'e')]."""
    tree = re.sub(r"\s+", "", re.sub(r"\s+as\s+", "@", tree))
    out = []

    def walk(prefix, t):
        if "{" not in t:
            alias = None
            if "@" in t:
                t, alias = t.split("@", 1)
            segs = [s for s in t.split("::") if s]
            if segs and segs[-1] == "self":
                segs = segs[:-1]
            if segs and segs[-1] == "*":
                segs = segs[:-1]
            out.append((prefix + segs, alias))
            return
        i = t.index("{")
        head = [s for s in t[:i].split("::") if s]
        body = t[i + 1 : t.rindex("}")]
        depth, start = 0, 0
        for j, c in enumerate(body + ","):
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            elif c == "," and depth == 0:
                part = body[start:j].strip()
                start = j + 1
                if part:
                    walk(prefix + head, part)

    walk([], tree)
    return out


def tarjan(graph):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
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
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def check(root):
    crate = Crate(root)
    problems = []
    graph = {}
    for mod, rel in sorted(crate.files.items(), key=lambda kv: kv[1]):
        layer = crate.layer(mod)
        path = "src/" + rel
        allowed = LAYERS.get(layer)
        if allowed is None:
            problems.append(f"{path}: layer `{layer}` is not in .ci/layering.py's LAYERS; give it a place")
            allowed = set()
        edges = crate.edges(mod)
        graph[mod] = edges
        for target in sorted(edges):
            if target == () or target == ("<main>",):
                continue  # lib.rs: the crate root (only `crate::` prelude-like paths reach it)
            tlayer = crate.layer(target)
            if allowed != "*" and tlayer != layer and tlayer not in allowed:
                problems.append(f"{path}: imports src/{crate.files[target]} (layer `{tlayer}`), which `{layer}` may not")
        code = drop_inline_tests(crate.code[mod])
        if layer == "http":
            m = STORAGE_CALL.search(code)
            if m:
                problems.append(f"{path}: calls {m.group(0)}...): handlers call the domain, which owns its reads and writes")
        if allowed != "*" and layer != "http" and re.search(r"\bAppState\b", code):
            problems.append(f"{path}: names AppState, which lives in http/ (take the layer's own context)")
        if layer not in SQL_HOME:
            if SQLX.search(code):
                problems.append(f"{path}: uses sqlx outside storage/")
            for s in crate.strings[mod]:
                if SQL_LITERAL.search(s) and not rel.endswith("tests.rs") and "/tests/" not in "/" + rel:
                    problems.append(f"{path}: holds SQL outside storage/: {s[:60]!r}")
                    break
        if layer not in CRYPTO_HOME and rel.replace(os.sep, "/") not in CRYPTO_EXEMPT:
            m = CRYPTO_CRATE.search(code)
            if m:
                problems.append(f"{path}: uses the `{m.group(1)}` crate outside crypto/ and pki/")
        lines = crate.text[mod].count("\n")
        if lines > MAX_LINES:
            problems.append(f"{path}: {lines} lines (at most {MAX_LINES})")
    for comp in tarjan(graph):
        names = ", ".join("src/" + crate.files[m] for m in comp)
        problems.append(f"import loop between {len(comp)} files: {names}")
        # show one cycle's edges to make the loop easy to break
        inside = set(comp)
        for m in comp:
            for t in sorted(graph[m] & inside):
                problems.append(f"    src/{crate.files[m]} -> src/{crate.files[t]}")
    return crate, graph, problems


def self_test():
    """Each rule, shown failing on a deliberate violation in a scratch copy of a tiny crate."""
    import tempfile

    cases = {
        "layers": ({"lib.rs": "pub mod http; pub mod licences;\n",
                    "http/mod.rs": "pub struct AppState;\n",
                    "licences/mod.rs": "use crate::http::AppState;\npub fn f(_: &AppState) {}\n"},
                   ["imports src/http/mod.rs", "names AppState"]),
        "sql": ({"lib.rs": "pub mod audit;\n",
                 "audit/mod.rs": "pub fn f() -> &'static str { \"SELECT pg_advisory_xact_lock(1)\" }\n"},
                ["holds SQL outside storage/"]),
        "sqlx": ({"lib.rs": "pub mod licences;\n",
                  "licences/mod.rs": "impl From<sqlx::Error> for E {}\n"},
                 ["uses sqlx outside storage/"]),
        "crypto": ({"lib.rs": "pub mod licences;\n",
                    "licences/mod.rs": "use ring::signature::ED25519;\n"},
                   ["uses the `ring` crate"]),
        "size": ({"lib.rs": "pub mod oidc;\n", "oidc/mod.rs": "// x\n" * (MAX_LINES + 1)},
                 ["lines (at most"]),
        "loop": ({"lib.rs": "pub mod oidc;\n",
                  "oidc/mod.rs": "pub mod a;\npub mod b;\npub use a::A;\n",
                  "oidc/a.rs": "use super::b::B;\npub struct A(B);\n",
                  "oidc/b.rs": "use crate::oidc::A;\npub struct B(Box<A>);\n"},
                 ["import loop between 2 files: src/oidc/a.rs, src/oidc/b.rs"]),
        "handler": ({"lib.rs": "pub mod http;\npub mod storage;\n",
                     "http/mod.rs": "async fn h(db: &Db) { crate::storage::licences::get(db, 1).await; }\n",
                     "storage/mod.rs": "pub mod licences;\n", "storage/licences.rs": "pub async fn get() {}\n"},
                    ["handlers call the domain"]),
        "clean": ({"lib.rs": "pub mod oidc;\npub mod storage;\n",
                   "oidc/mod.rs": "pub mod a;\npub mod b;\npub use a::A;\n",
                   "oidc/a.rs": "use super::b::B;\nuse crate::storage::Db;\npub struct A(B, Db);\n",
                   "oidc/b.rs": "/// crate::oidc::A is not an edge in a comment\npub struct B;\n",
                   "storage/mod.rs": "pub struct Db; fn q() -> &'static str { \"SELECT 1 FROM t\" }\n"},
                  []),
    }
    failed = False
    for name, (files, expected) in cases.items():
        with tempfile.TemporaryDirectory() as tmp:
            for rel, text in files.items():
                os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)
                with open(os.path.join(tmp, rel), "w", encoding="utf-8") as f:
                    f.write(text)
            _, _, problems = check(tmp)
            ok = all(any(e in p for p in problems) for e in expected) and (expected or not problems)
            print(f"self-test {name}: {'caught' if expected else 'clean'} -> {'ok' if ok else 'WRONG'}")
            for p in problems:
                print("    " + p)
            failed |= not ok
    return 1 if failed else 0


def main():
    if "--self-test" in sys.argv:
        return self_test()
    crate, graph, problems = check(ROOT)
    if "--graph" in sys.argv:
        for mod in sorted(graph, key=lambda m: crate.files[m]):
            for t in sorted(graph[mod], key=lambda m: crate.files[m]):
                print(f"src/{crate.files[mod]} -> src/{crate.files[t]}")
        return 0
    for p in problems:
        print(p)
    n = len(crate.files)
    edges = sum(len(v) for v in graph.values())
    if problems:
        print(f"layering: {len(problems)} problem(s) in {n} files")
        return 1
    print(f"layering: {n} files, {edges} imports between them, no loop, every rule holds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
