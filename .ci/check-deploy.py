#!/usr/bin/env python3
"""Checks deploy/ against the code: every file parses, and everything it names exists.

- every YAML file under deploy/ parses (all documents);
- the Dockerfile's COPY sources exist and pass its ignore file, and they cover everything the build
  reads (Cargo.toml targets, include_str!/include_bytes!, sqlx::migrate!); the final stage runs as a
  non-root user and its ENTRYPOINT is the binary it copies;
- compose.yaml: build context and Dockerfile, bind-mounted files, a one-shot init the nodes wait for,
  stop grace periods longer than the shutdown grace, one key volume for all, writable for `init` and
  read-only on the nodes, the proxy's upstreams and health path, /metrics refused by the proxy, the
  proxy's X-Forwarded-For not taken from clients; `docker compose config -q` and `caddy validate`
  where those tools exist;
- Kubernetes: every document has apiVersion, kind and metadata.name; kustomization.yaml's resources
  and generator files exist and name every manifest; selectors, ports, Secrets, ConfigMaps and
  Ingress backends resolve; probes (liveness /healthz, readiness /readyz), non-root, read-only root
  filesystem, read-only key mount, terminationGracePeriodSeconds > preStop sleep + shutdown grace;
  `kubectl kustomize` renders where kubectl exists;
- every TONGBAN_* name anywhere in deploy/ is a field of `pub struct Config` (src/config.rs) or one of
  the variables the code reads itself;
- every TONGBAN_TRUSTED_PROXIES value (compose, tongban.env) parses as addresses or CIDR networks, as
  src/config.rs would, none public (a public range would let clients choose their address),
  and in compose it covers the proxy's pinned network;
- every `tongban <command>` in the image, compose, Kubernetes and deploy/README.md exists in
  src/cli/, and every deploy/... path deploy/README.md names exists.

Exits non-zero on any failure. Python 3.11 with PyYAML (installed with pip if missing).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlparse

# TONGBAN_* variables the code reads outside `Config` (src/cli/). Each must still occur in src/ as
# a string literal, so a rename there fails here.
NON_CONFIG_VARS = {"TONGBAN_CONFIG", "TONGBAN_LOG", "TONGBAN_LOG_FORMAT"}

PROBE_PATHS = {"/healthz", "/readyz"}

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML is on the CI machine; this is the fallback
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "pyyaml"], check=False)
    try:
        import yaml
    except ImportError:
        sys.exit("check-deploy: PyYAML is missing and `pip install pyyaml` failed")


class Report:
    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []
        self.skipped = 0

    def check(self, ok: bool, what: str, why: str = "") -> bool:
        if ok:
            self.passed += 1
        else:
            msg = f"{what}: {why}" if why else what
            self.failed.append(msg)
            print(f"FAIL {msg}")
        return ok

    def ok(self, what: str) -> None:
        self.passed += 1
        print(f"ok   {what}")

    def skip(self, what: str) -> None:
        self.skipped += 1
        print(f"skip {what}")


R = Report()


def rel(p: Path) -> str:
    try:
        return str(p.relative_to(ROOT))
    except ValueError:
        return str(p)


# ---------------------------------------------------------------------------------------------------
# What the code defines


def config_keys() -> tuple[set[str], int]:
    """The fields of `pub struct Config` and the default of shutdown_grace_secs (20 if absent)."""
    text = (ROOT / "src/config.rs").read_text()
    m = re.search(r"pub struct Config\s*\{(.*?)\n\}", text, re.S)
    if not m:
        sys.exit("check-deploy: no `pub struct Config` in src/config.rs")
    body = re.sub(r"^\s*//.*$", "", m.group(1), flags=re.M)
    keys = set(re.findall(r"^\s*pub\s+(\w+)\s*:", body, re.M))
    d = re.search(r"shutdown_grace_secs:\s*(\d+)", text[m.end():])
    return keys, int(d.group(1)) if d else 20


def balanced(text: str, start: int) -> int:
    """Index just past the bracket group opening at text[start]."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack = []
    i = start
    in_str = False
    while i < len(text):
        c = text[i]
        if in_str:
            if c == "\\":
                i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c in pairs:
            stack.append(pairs[c])
        elif stack and c == stack[-1]:
            stack.pop()
            if not stack:
                return i + 1
        i += 1
    raise ValueError("unbalanced brackets")


def split_top(body: str) -> list[str]:
    """Split an enum body on the commas outside any brackets or strings."""
    parts, depth, cur, in_str, i = [], 0, [], False, 0
    while i < len(body):
        c = body[i]
        if in_str:
            if c == "\\":
                cur.append(c)
                i += 1
                c = body[i]
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            i += 1
            continue
        cur.append(c)
        i += 1
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def cli_tree() -> dict[str, set[str] | None]:
    """Top-level commands of src/cli/, each with its subcommands (None: it has none)."""
    text = "\n".join(p.read_text() for p in sorted((ROOT / "src/cli").glob("*.rs")))
    text = re.sub(r"^\s*//.*$", "", text, flags=re.M)
    enums: dict[str, list[tuple[str, str | None]]] = {}
    for m in re.finditer(r"\benum\s+(\w+)\s*\{", text):
        end = balanced(text, m.end() - 1)
        variants = []
        for seg in split_top(text[m.end():end - 1]):
            attrs = []
            while seg.startswith("#["):
                close = balanced(seg, 1)
                attrs.append(seg[:close])
                seg = seg[close:].strip()
            vm = re.match(r"(\w+)\s*(\((.*)\))?", seg, re.S)
            if not vm:
                continue
            joined = " ".join(attrs)
            explicit = re.search(r'name\s*=\s*"([^"]+)"', joined)
            name = explicit.group(1) if explicit else kebab(vm.group(1))
            nested = None
            if "subcommand" in joined and vm.group(3):
                nested = re.sub(r"^Box<(.*)>$", r"\1", vm.group(3).strip())
            variants.append((name, nested))
        enums[m.group(1)] = variants
    if "Command" not in enums:
        sys.exit("check-deploy: no `enum Command` in src/cli/")
    tree: dict[str, set[str] | None] = {}
    for name, nested in enums["Command"]:
        tree[name] = {n for n, _ in enums.get(nested, [])} if nested else None
    return tree


CONFIG_KEYS, SHUTDOWN_GRACE_DEFAULT = config_keys()
CLI = cli_tree()


def check_invocation(args: list[str], where: str) -> None:
    """`args` follow the program name: global options, a command, maybe a subcommand."""
    args = list(args)
    while args and args[0].startswith("-"):
        opt = args.pop(0)
        if opt == "--config" and args:
            args.pop(0)
    if not args:
        R.check(False, where, "no tongban command given")
        return
    cmd = args[0]
    if not R.check(cmd in CLI, where, f"`tongban {cmd}` is not a command of src/cli/"):
        return
    subs = CLI[cmd]
    if subs is None:
        R.ok(f"{where}: tongban {cmd}")
        return
    sub = args[1] if len(args) > 1 else None
    if sub is None or sub.startswith("-"):
        R.check(sub in ("--help", "-h"), where, f"`tongban {cmd}` needs one of {sorted(subs)}")
        return
    if R.check(sub in subs, where, f"`tongban {cmd} {sub}` is not in src/cli/ ({sorted(subs)})"):
        R.ok(f"{where}: tongban {cmd} {sub}")


# ---------------------------------------------------------------------------------------------------
# YAML and TONGBAN_* names


def load_yaml_files() -> dict[Path, list]:
    docs = {}
    for p in sorted(DEPLOY.rglob("*")):
        if p.suffix not in (".yaml", ".yml") or not p.is_file():
            continue
        try:
            docs[p] = [d for d in yaml.safe_load_all(p.read_text()) if d is not None]
            R.ok(f"{rel(p)} parses ({len(docs[p])} document(s))")
        except yaml.YAMLError as e:
            R.check(False, rel(p), f"does not parse: {e}")
            docs[p] = []
    return docs


def check_env_names() -> None:
    src_text = "\n".join(p.read_text() for p in (ROOT / "src").rglob("*.rs"))
    for var in sorted(NON_CONFIG_VARS):
        R.check(f'"{var}"' in src_text, f"src/ reads {var}",
                "not found in src/ any more: update NON_CONFIG_VARS in .ci/check-deploy.py")
    valid = {"TONGBAN_" + k.upper() for k in CONFIG_KEYS} | NON_CONFIG_VARS
    seen = 0
    for p in sorted(DEPLOY.rglob("*")):
        if not p.is_file():
            continue
        try:
            lines = p.read_text().splitlines()
        except UnicodeDecodeError:
            continue
        for n, line in enumerate(lines, 1):
            for var in re.findall(r"\bTONGBAN_[A-Z0-9_]+\b", line):
                seen += 1
                R.check(var in valid, f"{rel(p)}:{n}",
                        f"{var} is not a configuration key of src/config.rs nor read by the code")
    R.ok(f"{seen} TONGBAN_* names in deploy/ are all known")


# ---------------------------------------------------------------------------------------------------
# Dockerfile


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    out, cur = [], ""
    for line in path.read_text().splitlines():
        s = line.strip()
        if not cur and (not s or s.startswith("#")):
            continue
        if cur and s.startswith("#"):
            continue
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        cur += s
        word, _, rest = cur.partition(" ")
        out.append((word.upper(), rest.strip()))
        cur = ""
    return out


def exec_form(arg: str) -> list[str]:
    arg = arg.strip()
    if arg.startswith("["):
        return json.loads(arg)
    return shlex.split(arg)


def dockerignore_rules(path: Path) -> list[tuple[bool, re.Pattern]]:
    rules = []
    if not path.exists():
        return rules
    for line in path.read_text().splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        neg = s.startswith("!")
        pat = s[1:] if neg else s
        pat = pat.strip("/")
        rx = ""
        i = 0
        while i < len(pat):
            if pat.startswith("**", i):
                rx += ".*"
                i += 2
            elif pat[i] == "*":
                rx += "[^/]*"
                i += 1
            elif pat[i] == "?":
                rx += "[^/]"
                i += 1
            else:
                rx += re.escape(pat[i])
                i += 1
        rules.append((neg, re.compile(rx + r"\Z")))
    return rules


def ignored(relpath: str, rules) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = relpath.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    verdict = False
    for neg, rx in rules:
        if any(rx.match(p) for p in prefixes):
            verdict = not neg
    return verdict


def build_inputs() -> set[str]:
    """Repository files `cargo build --release` reads (besides src/**)."""
    need = {"Cargo.toml", "Cargo.lock"}
    manifest = tomllib.loads((ROOT / "Cargo.toml").read_text())
    for kind, folder in (("bench", "benches"), ("test", "tests"), ("example", "examples"), ("bin", "src/bin")):
        for t in manifest.get(kind, []):
            need.add(t.get("path") or f"{folder}/{t['name']}.rs")
    if isinstance(manifest.get("package", {}).get("build"), str):
        need.add(manifest["package"]["build"])
    for f in (ROOT / "src").rglob("*.rs"):
        if f.name == "tests.rs" or "tests" in f.relative_to(ROOT / "src").parts[:-1]:
            continue  # test-only modules are not compiled by a release build
        text = f.read_text()
        for m in re.finditer(r'include_(?:str|bytes)!\(\s*"([^"]+)"\s*\)', text):
            need.add(os.path.relpath((f.parent / m.group(1)).resolve(), ROOT))
        for m in re.finditer(r'migrate!\(\s*"([^"]+)"\s*\)', text):
            need.add(os.path.normpath(m.group(1)))
        need.add(str(f.relative_to(ROOT)))
    return need


def check_dockerfile() -> None:
    path = DEPLOY / "Dockerfile"
    if not R.check(path.exists(), "deploy/Dockerfile", "missing"):
        return
    ins = dockerfile_instructions(path)
    ignore_file = DEPLOY / "Dockerfile.dockerignore"
    if not ignore_file.exists():
        ignore_file = ROOT / ".dockerignore"
    R.check(ignore_file.exists(), "Dockerfile ignore file",
            "neither deploy/Dockerfile.dockerignore nor .dockerignore: keys/ would be in the context")
    rules = dockerignore_rules(ignore_file)

    stages, copies, user, entry, cmd, final_copies = [], [], None, None, None, []
    for word, rest in ins:
        if word == "FROM":
            stages.append(rest)
            user, final_copies = None, []
        elif word in ("COPY", "ADD"):
            args = exec_form(rest) if rest.startswith("[") else shlex.split(rest)
            flags = [a for a in args if a.startswith("--")]
            paths = [a for a in args if not a.startswith("--")]
            from_stage = any(f.startswith("--from=") for f in flags)
            final_copies.append((from_stage, paths[:-1], paths[-1]))
            if not from_stage:
                copies.extend(paths[:-1])
        elif word == "USER":
            user = rest
        elif word == "ENTRYPOINT":
            entry = exec_form(rest)
        elif word == "CMD":
            cmd = exec_form(rest)
        elif word == "HEALTHCHECK" and rest.upper() != "NONE":
            paths = re.findall(r"https?://[^/\s]+(/[^\s\"']*)", rest)
            for p in paths:
                R.check(p in PROBE_PATHS, "Dockerfile HEALTHCHECK", f"{p} is not /healthz or /readyz")
        elif word == "RUN" and "cargo build" in rest:
            R.check("--locked" in rest and "--release" in rest, "Dockerfile cargo build",
                    "must be `cargo build --release --locked`")
    R.check(len(stages) >= 2, "Dockerfile", "not a multi-stage build")

    srcs = []
    for s in copies:
        s = s.rstrip("/") or "."
        exists = any(ROOT.glob(s)) if any(ch in s for ch in "*?[") else (ROOT / s).exists()
        if R.check(exists, f"Dockerfile COPY {s}", "does not exist in the repository"):
            files = [f for f in (ROOT / s).rglob("*") if f.is_file()] if (ROOT / s).is_dir() else [ROOT / s]
            sent = [f for f in files if not ignored(rel(f), rules)]
            R.check(bool(sent), f"Dockerfile COPY {s}", f"excluded from the build context by {rel(ignore_file)}")
        srcs.append(s)
    missing = []
    for need in sorted(build_inputs()):
        covered = any(need == s or need.startswith(s + "/") for s in srcs)
        if not covered or ignored(need, rules) or not (ROOT / need).exists():
            missing.append(need)
    R.check(not missing, "Dockerfile build inputs",
            f"the build reads {missing[:8]} but the image build does not get them (COPY or ignore file)")
    if not missing:
        R.ok(f"Dockerfile copies every build input ({len(build_inputs())} files)")

    R.check(user is not None and user.split(":")[0] not in ("0", "root"), "Dockerfile final stage",
            f"runs as {user or 'the base image user'}; set a non-root USER")
    if R.check(bool(entry) and entry[0].endswith("/tongban"), "Dockerfile ENTRYPOINT",
               f"{entry} is not the tongban binary"):
        dests = [d for (from_stage, _, d) in final_copies if from_stage]
        R.check(entry[0] in dests, "Dockerfile ENTRYPOINT", f"{entry[0]} is not copied into the final stage")
        check_invocation(entry[1:] + (cmd or []), "Dockerfile ENTRYPOINT+CMD")


# ---------------------------------------------------------------------------------------------------
# TONGBAN_TRUSTED_PROXIES

IpNet = ipaddress.IPv4Network | ipaddress.IPv6Network

# Where a proxy of ours can be: private (RFC 1918, unique local), shared (CGNAT, some clusters' pod
# ranges), loopback and link-local addresses. A trusted network outside these holds internet clients.
NON_PUBLIC = [ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "fc00::/7", "::1/128", "fe80::/10")]


def trusted_proxies(value: str, where: str) -> list[IpNet] | None:
    """Parse like src/config.rs `parse_trusted_proxies` (addresses or CIDR networks, separated by
    commas or spaces), a little stricter: no host bits after the prefix (`10.1.2.3/8` is a typo the code
    would widen silently), and no public range, whose clients could then choose their own address.
    None if anything is wrong (reported)."""
    nets, ok = [], True
    for tok in (t for t in re.split(r"[, ]", value) if t):
        try:
            net = ipaddress.ip_network(tok, strict=True)
        except ValueError:
            try:
                loose = ipaddress.ip_network(tok, strict=False)
                why = f"{tok!r} has host bits set (did you mean {loose}?)"
            except ValueError:
                why = f"{tok!r} is neither an address nor a network"
            ok = R.check(False, where, why)
            continue
        ok &= R.check(covered(net, NON_PUBLIC), where,
                      f"{net} is (or contains) a public range: its clients could claim any address")
        nets.append(net)
    if ok:
        R.ok(f"{where}: {', '.join(map(str, nets)) or '(empty: the TCP peer is the client)'}")
    return nets if ok else None


def covered(net: IpNet, by: list[IpNet]) -> bool:
    return any(net.version == b.version and net.subnet_of(b) for b in by)


# ---------------------------------------------------------------------------------------------------
# compose


def compose_default(s: str) -> str | None:
    """`s` with each `${VAR:-default}` replaced by its default: what a plain `up` gets. None when a
    variable has no default."""
    missing = False

    def sub(m: re.Match) -> str:
        nonlocal missing
        if m.group(2) in (":-", "-"):
            return m.group(3)
        missing = True
        return ""

    out = re.sub(r"\$\{(\w+)(:?[-?+])?([^}]*)\}", sub, s)
    return None if missing or "$" in out.replace("$$", "") else out.replace("$$", "$")


def service_env(svc: dict) -> dict[str, str]:
    e = svc.get("environment") or {}
    if isinstance(e, list):
        e = dict(x.split("=", 1) for x in e if "=" in x)
    return {k: ("" if v is None else str(v)) for k, v in e.items()}


def compose_mount(v) -> tuple[str | None, str | None, bool]:
    """(source, target, read-only) of a service's volume, short or long syntax."""
    if isinstance(v, dict):
        return v.get("source"), v.get("target"), bool(v.get("read_only"))
    parts = str(v).split(":")
    if len(parts) == 1:
        return None, parts[0], False
    mode = parts[2].split(",") if len(parts) > 2 else []
    return parts[0], parts[1], "ro" in mode


def seconds(v) -> float:
    if isinstance(v, (int, float)):
        return float(v)
    total = 0.0
    for num, unit in re.findall(r"([\d.]+)(h|ms|m|s|us)", str(v)):
        total += float(num) * {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6}[unit]
    return total


def check_compose(docs: dict[Path, list]) -> None:
    path = DEPLOY / "compose.yaml"
    if not R.check(path in docs and docs[path], "deploy/compose.yaml", "missing or empty"):
        return
    compose = docs[path][0]
    services = compose.get("services", {})
    for name in ("postgres", "init", "node-a", "node-b", "proxy"):
        R.check(name in services, "compose services", f"no `{name}` service")

    tongban = {}
    for name, svc in services.items():
        build = svc.get("build")
        if isinstance(build, dict) or isinstance(build, str):
            ctx = path.parent / (build if isinstance(build, str) else build.get("context", "."))
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
            R.check(ctx.is_dir(), f"compose {name}: build context", f"{rel(ctx)} does not exist")
            R.check((ctx / dockerfile).is_file(), f"compose {name}: dockerfile",
                    f"{rel(ctx / dockerfile)} does not exist")
        if str(svc.get("image", "")).split(":")[0].endswith("tongban") or build:
            tongban[name] = svc
        for v in svc.get("volumes", []) or []:
            src = v.get("source") if isinstance(v, dict) and v.get("type") == "bind" else \
                v.split(":")[0] if isinstance(v, str) else None
            if src and (src.startswith(".") or src.startswith("/")):
                R.check((path.parent / src).exists(), f"compose {name}: bind mount", f"{src} does not exist")
        for f in ([svc["env_file"]] if isinstance(svc.get("env_file"), str) else svc.get("env_file") or []):
            f = f["path"] if isinstance(f, dict) else f
            R.check((path.parent / f).exists(), f"compose {name}: env_file", f"{f} does not exist")
        hc = svc.get("healthcheck", {}).get("test") if isinstance(svc.get("healthcheck"), dict) else None
        if hc:
            for p in re.findall(r"https?://[^/\s\"']+(/[^\s\"']*)", " ".join(hc) if isinstance(hc, list) else hc):
                R.check(p in PROBE_PATHS, f"compose {name}: healthcheck", f"{p} is not /healthz or /readyz")

    env = {}
    for svc in tongban.values():
        e = svc.get("environment") or {}
        if isinstance(e, list):
            e = dict(x.split("=", 1) for x in e if "=" in x)
        env.update(e)
    grace = float(env.get("TONGBAN_SHUTDOWN_GRACE_SECS", SHUTDOWN_GRACE_DEFAULT))

    serving = []
    key_sources: dict[str | None, list[str]] = {}
    for name, svc in tongban.items():
        entry = svc.get("entrypoint")
        if entry and not str(entry if isinstance(entry, str) else entry[0]).endswith("tongban"):
            R.skip(f"compose {name}: entrypoint is not tongban; command not checked")
            continue
        command = svc.get("command") or ["serve"]
        command = shlex.split(command) if isinstance(command, str) else [str(c) for c in command]
        check_invocation(command, f"compose {name}")
        if command[:1] == ["serve"]:
            serving.append(name)
            deps = svc.get("depends_on") or {}
            if isinstance(deps, list):
                deps = {d: {"condition": "service_started"} for d in deps}
            R.check(deps.get("init", {}).get("condition") == "service_completed_successfully",
                    f"compose {name}", "must wait for `init` with condition service_completed_successfully")
            R.check(deps.get("postgres", {}).get("condition") == "service_healthy",
                    f"compose {name}", "must wait for `postgres` with condition service_healthy")
            R.check(seconds(svc.get("stop_grace_period", "10s")) > grace, f"compose {name}",
                    f"stop_grace_period must exceed shutdown_grace_secs ({grace:g} s)")
        mounts = {m[1]: m for m in map(compose_mount, svc.get("volumes", []) or [])}
        key_dir = service_env(svc).get("TONGBAN_KEY_DIR")
        if R.check(key_dir in mounts, f"compose {name}: TONGBAN_KEY_DIR",
                   f"{key_dir} is not a mounted volume: each container would make keys of its own"):
            source, _, read_only = mounts[key_dir]
            key_sources.setdefault(source, []).append(name)
            if command[:1] == ["serve"]:
                R.check(read_only, f"compose {name}: TONGBAN_KEY_DIR",
                        f"a node must mount the key volume read-only ({source}:{key_dir}:ro): a writable "
                        "one lets a misconfigured node generate keys, or a whole CA, of its own")
            elif command[:1] == ["init"]:
                R.check(not read_only, f"compose {name}: TONGBAN_KEY_DIR",
                        "`init` creates the keys: its key volume must be writable")
        if "TONGBAN_DATABASE_URL" in (svc.get("environment") or {}):
            url = str(svc["environment"]["TONGBAN_DATABASE_URL"])
            host = urlparse(re.sub(r"\$\{[^}]*\}", "x", url)).hostname
            R.check(host in services, f"compose {name}: TONGBAN_DATABASE_URL", f"host {host} is not a service")
    R.check(len(serving) >= 2, "compose", f"two tongban nodes expected, found {serving}")
    R.check(len(key_sources) == 1, "compose key volume",
            f"the tongban services mount different key directories {key_sources}: all must share one")
    check_compose_trusted_proxies(compose, tongban, serving)
    pg = services.get("postgres", {})
    R.check(bool(pg.get("healthcheck")) and any(
        not str(v).startswith((".", "/")) for v in pg.get("volumes", [])),
        "compose postgres", "needs a healthcheck and a named volume")

    check_caddy(services, serving)

    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"],
                                                 capture_output=True).returncode == 0:
        e = dict(os.environ)
        e.setdefault("POSTGRES_PASSWORD", "check-deploy")
        r = subprocess.run(["docker", "compose", "-f", str(path), "config", "-q"],
                           capture_output=True, text=True, env=e)
        R.check(r.returncode == 0, "docker compose config -q", r.stderr.strip())
        if r.returncode == 0:
            R.ok("docker compose config -q")
    else:
        R.skip("docker compose config -q: the docker compose plugin is not installed here")


def check_compose_trusted_proxies(compose: dict, tongban: dict, serving: list[str]) -> None:
    """The nodes believe X-Forwarded-For from the proxy's network, exactly: its pinned subnet (or the
    proxy's pinned address) is covered, and nothing outside the project's pinned subnets is trusted."""
    services = compose.get("services", {})
    networks = compose.get("networks") or {}
    pinned: dict[str, list[IpNet]] = {}
    for net_name, net in networks.items():
        subnets = []
        for c in ((net or {}).get("ipam") or {}).get("config") or []:
            raw = compose_default(str(c.get("subnet", "")))
            if c.get("subnet") and R.check(raw is not None, f"compose network {net_name}",
                                           f"subnet {c['subnet']} has no default value"):
                try:
                    subnets.append(ipaddress.ip_network(raw, strict=True))
                except ValueError as e:
                    R.check(False, f"compose network {net_name}", f"subnet {raw!r}: {e}")
        pinned[net_name] = subnets
    proxy = services.get("proxy", {})
    pn = proxy.get("networks") or ["default"]
    proxy_nets = {n: {} for n in pn} if isinstance(pn, list) else {n: (v or {}) for n, v in pn.items()}
    all_pinned = [s for ss in pinned.values() for s in ss]
    # What the nodes must trust: the proxy's pinned address, or else its network's pinned subnet.
    proxy_side: list[tuple[str, IpNet]] = []
    for net_name, opts in proxy_nets.items():
        addr = opts.get("ipv4_address") or opts.get("ipv6_address")
        if addr:
            a = compose_default(str(addr))
            if R.check(a is not None, f"compose proxy network {net_name}", f"{addr} has no default value"):
                proxy_side.append((f"the proxy's address {a}", ipaddress.ip_network(a)))
        elif R.check(bool(pinned.get(net_name)), f"compose network {net_name}",
                     "the proxy's network has no pinned subnet (ipam config): TONGBAN_TRUSTED_PROXIES "
                     "cannot name it exactly"):
            proxy_side += [(f"the proxy's network {net_name} ({s})", s) for s in pinned[net_name]]
    for name in tongban:
        raw_value = service_env(tongban[name]).get("TONGBAN_TRUSTED_PROXIES")
        where = f"compose {name}: TONGBAN_TRUSTED_PROXIES"
        if raw_value is None:
            R.check(name not in serving, where,
                    "not set: behind the proxy every client would share the proxy's address")
            continue
        value = compose_default(raw_value)
        if not R.check(value is not None, where, f"{raw_value} has no default value"):
            continue
        nets = trusted_proxies(value, where)
        if nets is None or name not in serving:
            continue
        for n in nets:
            R.check(covered(n, all_pinned), where,
                    f"{n} is not within a pinned subnet of the compose networks {[str(s) for s in all_pinned]}")
        for what, n in proxy_side:
            R.check(covered(n, nets), where, f"does not cover {what}")


def check_caddy(services: dict, serving: list[str]) -> None:
    proxy = services.get("proxy", {})
    caddyfiles = []
    for v in proxy.get("volumes", []) or []:
        if isinstance(v, str) and v.startswith(".") and "Caddyfile" in v:
            caddyfiles.append(DEPLOY / v.split(":")[0])
    if not R.check(bool(caddyfiles), "compose proxy", "mounts no Caddyfile from deploy/"):
        return
    cf = caddyfiles[0]
    if not cf.exists():
        return  # reported as a missing bind mount
    text = re.sub(r"#.*$", "", cf.read_text(), flags=re.M)
    ups = re.findall(r"^\s*reverse_proxy\s+([^{\n]+)", text, re.M)
    hosts = {u.split(":")[0] for line in ups for u in line.split()}
    R.check(hosts == set(serving), f"{rel(cf)} reverse_proxy",
            f"upstreams {sorted(hosts)} are not the serving nodes {sorted(serving)}")
    for uri in re.findall(r"^\s*health_uri\s+(\S+)", text, re.M):
        R.check(uri in PROBE_PATHS, f"{rel(cf)} health_uri", f"{uri} is not /healthz or /readyz")
    R.check(bool(re.search(r"^\s*health_uri\s", text, re.M)), f"{rel(cf)}", "no active health check")
    blocked = False
    for name, paths in re.findall(r"^\s*@(\S+)\s+path\s+([^\n]+)", text, re.M):
        if "/metrics" in paths.split() and re.search(rf"^\s*(respond|abort|error)\s+@{re.escape(name)}\b", text, re.M):
            blocked = True
    R.check(blocked, f"{rel(cf)}", "does not refuse /metrics")
    # X-Forwarded-For is what the nodes take the client address from: Caddy, the edge, must set it from
    # the connection, never pass on or append to one a client sent.
    for value in re.findall(r"^\s*header_up\s+[+]?X-Forwarded-For\s+(\S+)", text, re.M | re.I):
        R.check(value in ("{remote_host}", "{http.request.remote.host}"), f"{rel(cf)} header_up X-Forwarded-For",
                f"{value} lets a client choose the address the nodes see (use Caddy's default)")
    for line in re.findall(r"^\s*trusted_proxies\s+([^\n{]+)", text, re.M):
        for tok in line.split():
            R.check(tok not in ("0.0.0.0/0", "::/0", "private_ranges"), f"{rel(cf)} trusted_proxies",
                    f"{tok} trusts X-Forwarded-For from clients; Caddy is the edge: name only what is in front of it")
    R.ok(f"{rel(cf)}: X-Forwarded-For comes from the connection")
    caddy = shutil.which("caddy") or os.environ.get("CADDY")
    if caddy:
        r = subprocess.run([caddy, "validate", "--config", str(cf), "--adapter", "caddyfile"],
                           capture_output=True, text=True)
        R.check(r.returncode == 0, f"caddy validate {rel(cf)}", (r.stderr or r.stdout).strip()[-400:])
        if r.returncode == 0:
            R.ok(f"caddy validate {rel(cf)}")
    else:
        R.skip(f"caddy validate {rel(cf)}: caddy is not installed here")


# ---------------------------------------------------------------------------------------------------
# Kubernetes


def env_file(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        s = line.strip()
        if s and not s.startswith("#") and "=" in s:
            k, v = s.split("=", 1)
            out[k.strip()] = v
    return out


def containers_of(spec: dict) -> list[dict]:
    return (spec.get("containers") or []) + (spec.get("initContainers") or [])


def check_k8s(docs: dict[Path, list]) -> None:
    kpath = K8S / "kustomization.yaml"
    if not R.check(kpath in docs and docs[kpath], "deploy/k8s/kustomization.yaml", "missing"):
        return
    kust = docs[kpath][0]
    resources = kust.get("resources", [])
    for r_ in resources:
        R.check((K8S / r_).exists(), f"kustomization resource {r_}", "does not exist")
    config_maps, env = set(), {}
    for g in kust.get("configMapGenerator", []):
        config_maps.add(g["name"])
        for f in g.get("envs", []) + [x.split("=")[-1] for x in g.get("files", [])]:
            if R.check((K8S / f).exists(), f"kustomization configMapGenerator {g['name']}", f"{f} does not exist"):
                if f in g.get("envs", []):
                    env.update(env_file(K8S / f))
    for p in kust.get("patches", []) or []:
        if isinstance(p, dict) and p.get("path"):
            R.check((K8S / p["path"]).exists(), f"kustomization patch {p['path']}", "does not exist")
    images = {i["name"]: i for i in kust.get("images", [])}

    objects: list[tuple[Path, dict]] = []
    secrets: set[str] = set()
    for p, ds in docs.items():
        if p.parent != K8S or p == kpath:
            continue
        template = p.name.endswith(".template.yaml")
        R.check(template or p.name in resources, f"{rel(p)}",
                "not listed in kustomization.yaml resources (name templates *.template.yaml)")
        for i, d in enumerate(ds):
            where = f"{rel(p)} document {i + 1}"
            ok = isinstance(d, dict) and d.get("apiVersion") and d.get("kind") and \
                isinstance(d.get("metadata"), dict) and d["metadata"].get("name")
            if R.check(bool(ok), where, "needs apiVersion, kind and metadata.name"):
                R.check("namespace" not in d["metadata"], where, "manifests are namespace-free")
                if d["kind"] == "Secret":
                    secrets.add(d["metadata"]["name"])
                    for k, v in (d.get("stringData") or {}).items():
                        R.check(isinstance(v, str), where, f"stringData.{k} must be a string")
                if not template:
                    objects.append((p, d))
    by_kind: dict[str, dict[str, dict]] = {}
    for _, d in objects:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    config_maps |= set(by_kind.get("ConfigMap", {}))

    grace = float(env.get("TONGBAN_SHUTDOWN_GRACE_SECS", SHUTDOWN_GRACE_DEFAULT))
    nets = trusted_proxies(env["TONGBAN_TRUSTED_PROXIES"].strip(), "deploy/k8s TONGBAN_TRUSTED_PROXIES") \
        if "TONGBAN_TRUSTED_PROXIES" in env else []
    R.check(nets != [] or not by_kind.get("Ingress"), "deploy/k8s TONGBAN_TRUSTED_PROXIES",
            "not set, behind an Ingress: every client would share the controller's address")
    deployments = by_kind.get("Deployment", {})
    R.check(bool(deployments), "k8s", "no Deployment")
    pod_labels: list[dict] = []
    ports_by_name: set[str] = set()
    ports_by_number: set[int] = set()
    for name, dep in deployments.items():
        w = f"Deployment {name}"
        spec = dep.get("spec", {})
        tpl = spec.get("template", {})
        labels = tpl.get("metadata", {}).get("labels", {})
        pod_labels.append(labels)
        sel = spec.get("selector", {}).get("matchLabels", {})
        R.check(bool(sel) and all(labels.get(k) == v for k, v in sel.items()), w,
                "selector.matchLabels do not match the pod template labels")
        R.check(spec.get("replicas", 1) >= 2, w, "fewer than 2 replicas")
        pod = tpl.get("spec", {})
        psc = pod.get("securityContext", {})
        R.check(psc.get("runAsNonRoot") is True, w, "pod securityContext.runAsNonRoot must be true")
        sleep = 0
        for c in containers_of(pod):
            cw = f"{w} container {c.get('name')}"
            sc = c.get("securityContext", {})
            R.check(sc.get("readOnlyRootFilesystem") is True, cw, "readOnlyRootFilesystem must be true")
            R.check(sc.get("allowPrivilegeEscalation") is False, cw, "allowPrivilegeEscalation must be false")
            R.check(c.get("resources", {}).get("requests") and c["resources"].get("limits"), cw,
                    "needs resources.requests and resources.limits")
            image = str(c.get("image", ""))
            R.check(image in images or ":" in image or "@" in image, cw,
                    f"image {image!r} is neither pinned nor set in kustomization images")
            for p in c.get("ports", []):
                if p.get("name"):
                    ports_by_name.add(p["name"])
                ports_by_number.add(p.get("containerPort"))
            if image.split(":")[0].split("/")[-1] == "tongban" or image in images:
                cmd = c.get("command") or []
                if not cmd or cmd[0].endswith("tongban"):
                    check_invocation((cmd[1:] if cmd else []) + (c.get("args") or ["serve"]), cw)
            for kind, want in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"),
                               ("startupProbe", None)):
                probe = c.get(kind)
                if probe is None:
                    R.check(kind == "startupProbe", cw, f"no {kind}")
                    continue
                hg = probe.get("httpGet", {})
                path_ = hg.get("path")
                R.check(path_ in PROBE_PATHS and (want is None or path_ == want), f"{cw} {kind}",
                        f"path {path_} (want {want or '/healthz or /readyz'})")
                port = hg.get("port")
                R.check(port in ports_by_name or port in ports_by_number, f"{cw} {kind}",
                        f"port {port} is not a container port")
            for ef in c.get("envFrom", []):
                if "configMapRef" in ef:
                    n = ef["configMapRef"]["name"]
                    R.check(n in config_maps, cw, f"ConfigMap {n} is neither generated nor a resource")
                if "secretRef" in ef:
                    n = ef["secretRef"]["name"]
                    R.check(n in secrets, cw, f"Secret {n} is not described in a *.template.yaml")
            mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
            key_dir = env.get("TONGBAN_KEY_DIR")
            R.check(key_dir in mounts and mounts[key_dir].get("readOnly") is True, cw,
                    f"TONGBAN_KEY_DIR {key_dir} must be a read-only volume mount")
            pre = c.get("lifecycle", {}).get("preStop", {})
            sleep = max(sleep, pre.get("sleep", {}).get("seconds", 0))
            R.check("exec" not in pre, cw, "preStop exec needs a shell; the image has none (use sleep)")
        tgps = pod.get("terminationGracePeriodSeconds", 30)
        R.check(tgps > sleep + grace, w,
                f"terminationGracePeriodSeconds {tgps} must exceed preStop sleep {sleep} + shutdown grace {grace:g}")
        for v in pod.get("volumes", []):
            srcs = [v["secret"]] if "secret" in v else [s["secret"] for s in v.get("projected", {}).get(
                "sources", []) if "secret" in s]
            for s in srcs:
                n = s.get("secretName") or s.get("name")
                R.check(n in secrets, f"{w} volume {v['name']}", f"Secret {n} is not described in a *.template.yaml")
            srcs = [v["configMap"]] if "configMap" in v else []
            for s in srcs:
                R.check(s["name"] in config_maps, f"{w} volume {v['name']}", f"ConfigMap {s['name']} unknown")
        mounts = {m["name"] for c in containers_of(pod) for m in c.get("volumeMounts", [])}
        R.check(mounts <= {v["name"] for v in pod.get("volumes", [])}, w, "a volumeMount names no volume")

    def selects(selector: dict) -> bool:
        return bool(selector) and any(all(l.get(k) == v for k, v in selector.items()) for l in pod_labels)

    services = by_kind.get("Service", {})
    for name, svc in services.items():
        sel = svc.get("spec", {}).get("selector")
        if sel is None:
            continue  # deliberately without endpoints
        R.check(selects(sel), f"Service {name}", "selects no Deployment's pods")
        for p in svc["spec"].get("ports", []):
            t = p.get("targetPort", p.get("port"))
            R.check(t in ports_by_name or t in ports_by_number, f"Service {name}", f"targetPort {t} is no container port")
    for name, pdb in by_kind.get("PodDisruptionBudget", {}).items():
        R.check(selects(pdb.get("spec", {}).get("selector", {}).get("matchLabels", {})),
                f"PodDisruptionBudget {name}", "selects no Deployment's pods")
        replicas = min((d["spec"].get("replicas", 1) for d in deployments.values()), default=1)
        m = pdb["spec"].get("minAvailable")
        R.check(isinstance(m, int) and 1 <= m < replicas, f"PodDisruptionBudget {name}",
                f"minAvailable {m} must be at least 1 and below the replicas ({replicas})")
    R.check(bool(by_kind.get("PodDisruptionBudget")), "k8s", "no PodDisruptionBudget")
    issuer_host = urlparse(env.get("TONGBAN_ISSUER", "")).hostname
    for name, ing in by_kind.get("Ingress", {}).items():
        metrics_blocked = False
        for rule in ing.get("spec", {}).get("rules", []):
            R.check(rule.get("host") == issuer_host, f"Ingress {name}",
                    f"host {rule.get('host')} is not the issuer's host {issuer_host}")
            for p in rule.get("http", {}).get("paths", []):
                b = p["backend"]["service"]
                svc = services.get(b["name"])
                if not R.check(svc is not None, f"Ingress {name} {p['path']}", f"Service {b['name']} is not a resource"):
                    continue
                port = b["port"].get("name") or b["port"].get("number")
                R.check(any(port in (sp.get("name"), sp.get("port")) for sp in svc["spec"].get("ports", [])),
                        f"Ingress {name} {p['path']}", f"Service {b['name']} has no port {port}")
                if p["path"] == "/metrics" and svc["spec"].get("selector") is None:
                    metrics_blocked = True
        R.check(metrics_blocked, f"Ingress {name}", "/metrics must not reach the pods")

    kubectl = shutil.which("kubectl")
    if kubectl:
        r = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True)
        if R.check(r.returncode == 0, "kubectl kustomize deploy/k8s", r.stderr.strip()):
            rendered = [d for d in yaml.safe_load_all(r.stdout) if d]
            R.check(all(d.get("apiVersion") and d.get("kind") and d.get("metadata", {}).get("name")
                        for d in rendered), "kubectl kustomize output", "a document lacks apiVersion/kind/name")
            R.ok(f"kubectl kustomize deploy/k8s renders {len(rendered)} objects")
    else:
        R.skip("kubectl kustomize deploy/k8s: kubectl is not installed here")


# ---------------------------------------------------------------------------------------------------
# deploy/README.md


def check_readme() -> None:
    path = DEPLOY / "README.md"
    if not R.check(path.exists(), "deploy/README.md", "missing"):
        return
    text = path.read_text()
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text()) if (DEPLOY / "compose.yaml").exists() else {}
    tongban_services = {n for n, s in (compose or {}).get("services", {}).items()
                        if s.get("build") or str(s.get("image", "")).startswith("tongban")}
    in_code = False
    for n, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        code = [line] if in_code else re.findall(r"`([^`]+)`", line)
        for line_ in code:
            if line_.lstrip().startswith("#"):
                continue
            for m in re.finditer(r"(?:^|[\s;&|(])tongban((?:\s+[a-z][a-z-]*\b(?![-_/.:]))+)", line_):
                before = line_[:m.start()].split()
                if before and before[-1].startswith("-") and before[-1] != "--":
                    continue  # an option's value (`-n tongban`, `-U tongban`), not the program
                check_invocation(m.group(1).split()[:2], f"deploy/README.md:{n}")
            for m in re.finditer(r"\btongban:[\w.-]+['\"]?\s+([a-z][a-z-]*)\b(?![-_/.:])(?:\s+([a-z][a-z-]*)\b(?![-_/.:]))?", line_):
                check_invocation([g for g in m.groups() if g], f"deploy/README.md:{n}")
            for m in re.finditer(r"compose(?:\s+-f\s+\S+)?\s+run\s+(?:--\S+\s+)*(\S+)\s+([a-z][a-z-]*)(?:\s+([a-z][a-z-]*))?", line_):
                if m.group(1) in tongban_services:
                    check_invocation([g for g in m.groups()[1:] if g], f"deploy/README.md:{n}")
        for m in re.finditer(r"`((?:deploy|\.ci)/[^`\s]*)`", line):
            p = m.group(1).rstrip(".,:;")
            R.check((ROOT / p).exists() or bool(list(ROOT.glob(p))), f"deploy/README.md:{n}", f"{p} does not exist")
        for m in re.finditer(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", line):
            target = m.group(1)
            if "://" not in target and not target.startswith("mailto:"):
                R.check((path.parent / target).exists(), f"deploy/README.md:{n}", f"link {target} does not exist")


def main() -> int:
    os.chdir(ROOT)
    print(f"== check-deploy ({rel(DEPLOY)}/ against src/config.rs and src/cli/)")
    docs = load_yaml_files()
    check_env_names()
    check_dockerfile()
    check_compose(docs)
    check_k8s(docs)
    check_readme()
    print(f"check-deploy: {R.passed} passed, {len(R.failed)} failed, {R.skipped} skipped")
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
