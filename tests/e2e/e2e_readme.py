"""e2e cases of README.md (issue 11, "Tested: every command in the README is
exercised by a test or by CI"). Every code block of README.md is read:

  ```sh      one command a line (a trailing backslash continues it, `  # ...`
             is a comment). Each command is either run here against the build
             (RUN: cheap ones, exit status and a key line of output checked),
             or found in MAPPED, which names the test or CI file that runs it
             (and that target is checked to exist). Any other command fails.
  ```text    output excerpts: a line `$ COMMAND` is a command as above; the
             lines after it, up to the next `$`, are its output as shown: each
             must be a line of the real output (stdout and stderr), in order;
             `...` alone skips lines, `...` inside a line stands for any
             text. A text block without `$` is a picture.
  ```usage   synopses (`flowtrail-sensor ...`, `flowtrail SUB ...`): every
             `--option` shown must appear in that command's `--help`.

Indented code blocks and other fence types are refused, so the README cannot
grow a command this test does not see. Commands run in README order, in a
scratch directory where `build` is this build and `tests`, `deploy`,
`examples` are the source tree's, so `build/sample.ftr` of the sensor's
command is what the later `flowtrail cat build/sample.ftr` reads.

  readme_commands     README.md as above; every e2e_CASE its prose names exists.
  readme_catches_drift  small READMEs with one drift each (an unknown
                      command, a wrong excerpt line, an option missing from
                      --help, a failing command, an indented block, a mapping
                      to a test that does not exist) each fail the check; a
                      correct one passes.
"""

import os
import re
import shutil
import subprocess

import e2e_lib as lib
from e2e_lib import Failure, log, report

BUILD_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(lib.SENSOR))) if lib.SENSOR else ""

# Commands run here: (pattern, exit status, a regex some output line must match).
# The sensor only on a finite capture (no infinite_rx replay, no NIC).
RUN = [
    (r"build/src/app/flowtrail-sensor (?!.*infinite_rx)(?!.*--metrics).*"
     r"--vdev=net_pcap0,rx_pcap=tests/data/\S+\.pcap -- .*--output \S+.*", 0,
     r"flowtrail-sensor summary \(end_of_input, capture mode"),
    (r"build/src/app/flowtrail-sensor -- --help", 0, r"usage: .*flowtrail-sensor"),
    (r"build/src/app/flowtrail-sensor -- --config deploy/sensor/\w+\.toml --print-config", 0,
     r"\[eal\]"),
    (r"build/src/tools/flowtrail( [a-z-]+){0,2} --help", 0, r"usage: flowtrail"),
    (r"build/src/tools/flowtrail (cat|report) .*build/\S+", 0, r"."),
    (r"python3 -m json\.tool build/\S+\.json", 0, r"\{"),
]

# Commands another test or CI runs: (pattern, target). A target is
# ("e2e", CASE): tests/e2e/meson.build defines e2e_CASE; ("file", PATH, TEXT):
# PATH (in the source tree) contains TEXT; ("meson-tests",): the command names
# e2e tests, each of which must exist.
MAPPED = [
    # The two top commands: CI (.ci/run) runs scripts/test.sh; e2e_sample_capture
    # runs the sensor on the sample as scripts/run-sample.sh does.
    (r"scripts/run-sample\.sh", ("e2e", "sample_capture")),
    (r"scripts/test\.sh", ("file", ".ci/run", "exec scripts/test.sh")),
    (r"scripts/build\.sh release build", ("file", "scripts/test.sh",
                                          "scripts/build.sh release build")),
    (r"scripts/build\.sh asan build-asan", ("file", "scripts/test.sh",
                                            "scripts/build.sh asan build-asan")),
    (r"meson test -C build --no-rebuild --print-errorlogs --suite unit --suite e2e",
     ("file", "scripts/test.sh",
      "meson test -C build --no-rebuild --print-errorlogs --suite unit --suite e2e")),
    (r"meson test -C build( --no-rebuild)?( e2e_\w+)+", ("meson-tests",)),
    (r"(sudo )?tests/lab/lab\.py \S+( --scenarios \S+)?", ("e2e", "lab_records")),
    # Live: a replay that never ends by itself, scraped and queried.
    (r"build/src/app/flowtrail-sensor .*infinite_rx=1.*--metrics \S+.*",
     ("e2e", "metrics_scrape")),
    (r"curl -s http://127\.0\.0\.1:\d+/metrics", ("e2e", "metrics_scrape")),
    (r"echo /flowtrail/\w+ \| dpdk-telemetry\.py -f \S+", ("e2e", "telemetry_every_command")),
    (r"kill -HUP \S+", ("e2e", "config_sighup")),
    # Collectors and ClickHouse.
    (r"build/src/tools/flowtrail collect (?!.*--clickhouse).*", ("e2e", "collect_hostile")),
    (r"build/src/tools/flowtrail collect .*--clickhouse \S+.*", ("e2e", "clickhouse_cluster")),
    (r"build/src/tools/flowtrail clickhouse-load .*", ("e2e", "clickhouse_cluster")),
    (r"build/src/app/flowtrail-sensor .*--collector \S+.*", ("e2e", "collector_link_kill")),
    (r"python3 examples/python/read_stream\.py \S+", ("e2e", "segments_python_consumer")),
]


def parse(text):
    """The README's code blocks as (kind, line number, lines); problems."""
    blocks, problems = [], []
    lines = text.split("\n")
    i, prev_blank, in_list = 0, True, False
    while i < len(lines):
        line = lines[i]
        # A fence may be indented up to 3 spaces (inside a list item).
        m = re.match(r"^( {0,3})```(\S*)\s*$", line)
        if m:
            indent, kind, start, body = len(m.group(1)), m.group(2), i + 1, []
            i += 1
            while i < len(lines) and not re.match(r"^ {0,3}```\s*$", lines[i]):
                body.append(lines[i][indent:] if lines[i][:indent].isspace() else lines[i])
                i += 1
            if i == len(lines):
                problems.append(f"line {start}: code block never closed")
            if kind not in ("sh", "text", "usage"):
                problems.append(f"line {start}: code block of kind {kind!r}: use sh, text "
                                "or usage (e2e_readme.py checks each)")
            blocks.append((kind, start, body))
            i += 1
            prev_blank = False
            continue
        if line.startswith("    ") and line.strip() and prev_blank and not in_list:
            problems.append(f"line {i + 1}: indented code block ({line.strip()!r}): "
                            "use a fenced ```sh block")
        if re.match(r"^\s*([-*]|\d+\.) ", line):
            in_list = True
        elif not line.strip():
            pass
        elif not line.startswith(" "):
            in_list = False
        prev_blank = not line.strip()
        i += 1
    return blocks, problems


def commands(body):
    """Logical command lines of an sh block: continuations joined, comments cut."""
    out, cur = [], ""
    for raw in body:
        line = re.sub(r"\s+#\s.*$", "", raw).rstrip()
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            cur += line[:-1].strip() + " "
            continue
        cur += line.strip()
        if cur:
            out.append(re.sub(r"\s+", " ", cur))
        cur = ""
    if cur.strip():
        out.append(re.sub(r"\s+", " ", cur.strip()))
    return out


def e2e_names(source_root):
    with open(os.path.join(source_root, "tests", "e2e", "meson.build")) as f:
        text = f.read()
    return set(re.findall(r"^\s*'(\w+)': ", text, re.M))


def check_target(cmd, target, source_root):
    if target[0] == "e2e":
        if target[1] not in e2e_names(source_root):
            return f"{cmd!r}: mapped to e2e_{target[1]}, which tests/e2e/meson.build lacks"
    elif target[0] == "file":
        path = os.path.join(source_root, target[1])
        try:
            with open(path) as f:
                if target[2] not in f.read():
                    return f"{cmd!r}: mapped to {target[1]}, which does not run {target[2]!r}"
        except OSError as e:
            return f"{cmd!r}: mapped to {target[1]}: {e}"
    elif target[0] == "meson-tests":
        names = e2e_names(source_root)
        for t in re.findall(r"\be2e_(\w+)", cmd):
            if t not in names:
                return f"{cmd!r}: no test e2e_{t} in tests/e2e/meson.build"
    return None


def excerpt_regex(line):
    # The spaces around a `...` are part of it: `80, ... "conn_state"` shows
    # `80,"transient_server":false,...,"conn_state"`.
    return re.compile(".*".join(re.escape(p) for p in re.split(r"\s*\.\.\.\s*", line.rstrip())))


def check_excerpt(cmd, excerpt, output):
    """Each excerpt line is a line of the output, in order."""
    out_lines = [l.rstrip() for l in output.split("\n")]
    at = 0
    for want in excerpt:
        if want.strip() == "..." or not want.strip():
            continue
        rx = excerpt_regex(want)
        while at < len(out_lines) and not rx.fullmatch(out_lines[at]):
            at += 1
        if at == len(out_lines):
            return f"{cmd!r}: the README shows {want!r}, not in its output (in this order)"
        at += 1
    return None


class Checker:
    def __init__(self, work, source_root):
        self.work = work
        self.source_root = source_root
        self.problems = []
        self.ran = self.mapped = 0
        if os.path.isdir(work):
            shutil.rmtree(work)
        os.makedirs(work)
        os.symlink(BUILD_ROOT, os.path.join(work, "build"))
        for d in ("tests", "deploy", "examples"):
            os.symlink(os.path.join(source_root, d), os.path.join(work, d))

    def run(self, cmd, excerpt=None):
        for pat, target in MAPPED:
            if re.fullmatch(pat, cmd):
                problem = check_target(cmd, target, self.source_root)
                if problem:
                    self.problems.append(problem)
                else:
                    log(f"  mapped: {cmd}  ->  {' '.join(target)}")
                    self.mapped += 1
                return
        for pat, status, key in RUN:
            if re.fullmatch(pat, cmd):
                break
        else:
            self.problems.append(f"{cmd!r}: unknown command: neither run by e2e_readme.py (RUN) "
                                 "nor mapped to the test that runs it (MAPPED)")
            return
        log(f"  $ {cmd}")
        try:
            p = subprocess.run(["bash", "-c", cmd], cwd=self.work, capture_output=True,
                               text=True, errors="replace", timeout=120)
        except subprocess.TimeoutExpired:
            self.problems.append(f"{cmd!r}: did not finish within 120 s")
            return
        self.ran += 1
        output = p.stdout + p.stderr
        if p.returncode != status:
            self.problems.append(f"{cmd!r}: exit {p.returncode}, expected {status}: "
                                 f"{lib.tail(output, 8)}")
            return
        if not any(re.search(key, l) for l in output.split("\n")):
            self.problems.append(f"{cmd!r}: no output line matches {key!r}")
        if excerpt:
            problem = check_excerpt(cmd, excerpt, output)
            if problem:
                self.problems.append(problem)

    def usage(self, line):
        words = line.split()
        if words[0] == "flowtrail-sensor":
            help_cmd = [lib.SENSOR, "--", "--help"]
        elif words[0] == "flowtrail":
            sub = []
            for w in words[1:3]:
                if not re.fullmatch(r"[a-z][a-z-]*", w):
                    break
                sub.append(w)
            help_cmd = [lib.CLI] + sub + ["--help"]
        else:
            self.problems.append(f"usage {line!r}: not a flowtrail or flowtrail-sensor synopsis")
            return
        shown = " ".join([words[0]] + help_cmd[1:])
        p = subprocess.run(help_cmd, capture_output=True, text=True, timeout=30)
        text = p.stdout + p.stderr
        if p.returncode != 0:
            self.problems.append(f"usage {line!r}: `{shown}` exits {p.returncode}")
            return
        for opt in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", line.split(" -- ", 1)[-1]):
            if not re.search(re.escape(opt) + r"(?![a-z0-9-])", text):
                self.problems.append(f"usage {line!r}: {opt} is not in `{shown}`")
        self.mapped += 1

    def check(self, text):
        blocks, problems = parse(text)
        self.problems += problems
        for kind, start, body in blocks:
            if kind == "sh":
                for cmd in commands(body):
                    self.run(cmd)
            elif kind == "text":
                cmd, excerpt, cont = None, [], False
                for line in body + ["$ "]:
                    if cont:
                        cont = line.endswith("\\")
                        cmd += " " + line.rstrip("\\").strip()
                    elif line.startswith("$ "):
                        if cmd:
                            self.run(re.sub(r"\s+", " ", cmd).strip(), excerpt)
                        cont = line.endswith("\\")
                        cmd, excerpt = line[2:].rstrip("\\").strip(), []
                    elif cmd:
                        excerpt.append(line)
            elif kind == "usage":
                synopses = []
                for line in body:
                    if line.startswith(" ") and synopses:
                        synopses[-1] += " " + re.sub(r"\s+#.*$", "", line).strip()
                    elif line.strip():
                        synopses.append(re.sub(r"\s+#\s.*$", "", line).strip())
                for s in synopses:
                    self.usage(s)
        return self.problems


def readme_commands():
    path = os.environ.get("FLOWTRAIL_README", os.path.join(lib.SOURCE_ROOT, "README.md"))
    with open(path) as f:
        text = f.read()
    c = Checker(os.path.join(lib.WORK_DIR, "readme_commands"), lib.SOURCE_ROOT)
    problems = c.check(text)
    # The tests the prose names exist too.
    names = e2e_names(lib.SOURCE_ROOT)
    for t in sorted(set(re.findall(r"\be2e_(\w+)", text))):
        if t not in names:
            problems.append(f"the README names e2e_{t}, which tests/e2e/meson.build lacks")
    log(f"  {c.ran} commands run, {c.mapped} mapped or synopses checked")
    if c.ran < 5:
        problems.append(f"only {c.ran} commands ran: the README's tour should run")
    report(problems, path)


SAMPLE = ("```sh\nbuild/src/app/flowtrail-sensor --no-huge -m 512 --no-pci --no-shconf "
          "--no-telemetry -l 0-1 --vdev=net_pcap0,rx_pcap=tests/data/sample.pcap -- "
          "--output build/drift.ftr\n```\n")
GOOD_TEXT = ("```text\n$ build/src/tools/flowtrail report scans build/drift.ftr\n"
             "client       port  rejects ...\n...\n10.77.0.100   445 ...\n```\n")


def readme_catches_drift():
    drifts = {
        "an unknown command": "```sh\nbuild/src/tools/flowtrail frobnicate build/drift.ftr\n```\n",
        "a wrong excerpt line": GOOD_TEXT.replace("445", "446"),
        "an option not in --help": "```usage\nflowtrail cat [--colour] FILE...\n```\n",
        "a failing command": "```text\n$ build/src/tools/flowtrail cat build/missing.ftr\n```\n",
        "an indented block": "Run:\n\n    scripts/frobnicate.sh\n",
        "another fence type": "```bash\nscripts/test.sh\n```\n",
        "a mapped test that is gone": "```sh\nmeson test -C build e2e_no_such_case\n```\n",
    }
    problems = []
    for name, body in drifts.items():
        c = Checker(os.path.join(lib.WORK_DIR, "readme_drift"), lib.SOURCE_ROOT)
        found = c.check(SAMPLE + body)
        if not found:
            problems.append(f"{name}: not caught")
        else:
            log(f"  {name}: caught: {found[0]}")
    c = Checker(os.path.join(lib.WORK_DIR, "readme_drift"), lib.SOURCE_ROOT)
    found = c.check(SAMPLE + GOOD_TEXT + "```usage\nflowtrail cat [--format json] FILE...\n```\n")
    if found or c.ran != 2:
        problems.append(f"a correct README fails ({c.ran} run): {found}")
    report(problems, "README drift detection")


if __name__ == "__main__":
    raise SystemExit(lib.main({
        "readme_commands": readme_commands,
        "readme_catches_drift": readme_catches_drift,
    }))
