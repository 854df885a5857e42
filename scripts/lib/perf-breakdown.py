#!/usr/bin/env python3
"""Where a process's CPU goes, from `perf script` output on stdin.

Reads the samples of `perf record --call-graph dwarf` (as printed by
`perf script -F pid,tid,period,ip,sym,dso`), keeps those of the process
given by --pid, and books each sample to one part of the delivery path,
by the innermost frame that names one (see PARTS). Prints a Markdown
table (share of the process's samples, and µs per delivery when
--cpu-us-per-delivery is given) and, with --folded FILE, writes the folded
stacks a flame-graph tool reads (`inferno-flamegraph FILE > out.svg`).

Usage: perf script ... | perf-breakdown.py --pid PID
         [--cpu-us-per-delivery X] [--folded FILE] [--json FILE]
         [--role server|loadgen]
With --role loadgen the process is `pushbench run` (the load generator):
its classifier and its meter, tracker and histogram are parts of their
own, and X is its CPU per received event.
"""

import argparse
import collections
import json
import re
import sys

# (part, pattern on a frame's symbol). Kernel samples are booked by the
# system call they sit under; user samples by the innermost frame that
# matches, from the leaf outwards.
KERNEL_PARTS = [
    ("syscalls: send (TCP, incl. loopback delivery)",
     re.compile(r"__sys_sendto|__sys_sendmsg|do_writev|tcp_sendmsg|ksys_write|__x64_sys_write")),
    ("syscalls: receive",
     re.compile(r"__sys_recvfrom|__sys_recvmsg|ksys_read|tcp_recvmsg|do_readv")),
    ("syscalls: epoll, futex, scheduling",
     re.compile(r"epoll|futex|schedule|sched_yield|nanosleep|clock_nanosleep")),
    ("syscalls: accept, close, other", re.compile(r".")),
]
USER_PARTS = [
    ("counting listener", re.compile(r"pushbench_net::counting|ConnTally|ConnCounts")),
    ("encoding and framing",
     re.compile(r"tungstenite::protocol::frame|buffer_frame|format_into_buf|"
                r"pushbench_server::ws::outgoing|StoredEvent|to_json|"
                r"pushbench_server::(sse|stream|direct|push_framing)::|hyper::proto::h1::(encode|role)|"
                r"frame_batch|Frames")),
    ("hub (publish, ring)", re.compile(r"pushbench_server::hub::|pushbench_server::generator")),
    ("queue and wake-ups (broadcast, notify)",
     re.compile(r"tokio::sync::(broadcast|notify|watch)|pushbench_server::live::|AtomicWaker|wake_by")),
    ("allocation and copies", re.compile(r"malloc|_int_free|cfree|realloc|memmove|memcpy|memset|__rust_(alloc|dealloc)")),
    ("socket I/O glue (tokio io, timeouts)",
     re.compile(r"tokio::net::|tokio::io::|tokio_io_timeout|poll_write|poll_flush|poll_read|__send|__recv|__libc_")),
    ("async runtime (scheduler, timers, select)", re.compile(r"tokio::runtime|tokio::time|poll_fn|Pin<P>|select")),
]
# The load generator's own parts (--role loadgen), before the shared ones.
LOADGEN_PARTS = [
    ("classifier (wire parsing, event decoding)",
     re.compile(r"pushbench_protocol::(wire|event|frame_head|h2_classifier|tls_records)")),
    ("meter, tracker and histogram",
     re.compile(r"pushbench_loadgen::(meter|session|tracker|recorder)|hdrhistogram")),
]
OTHER = "other user space"
# A sample's first line: `PID/TID PERIOD`.
HEADER = re.compile(r"^\s*\d+/\d+\s")
# What counts as a system call's entry in a kernel stack.
SYSCALL_ENTRY = re.compile(r"entry_SYSCALL|do_syscall_64")


def parse(lines):
    """Yields (pid, period, frames leaf-first as (sym, dso))."""
    head, frames = None, []
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            if head:
                yield head[0], head[1], frames
            head, frames = None, []
        elif HEADER.match(line):
            parts = line.split()
            pid = int(parts[0].split("/")[0])
            period = int(parts[-1]) if parts[-1].isdigit() else 1
            head, frames = (pid, period), []
        else:
            m = re.match(r"\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$", line)
            if m:
                sym = re.sub(r"\+0x[0-9a-f]+$", "", m.group(1))
                frames.append((sym, m.group(2)))
    if head:
        yield head[0], head[1], frames


def is_kernel(dso):
    return "kernel" in dso or dso.startswith("[k")


def part_of(frames, user_parts):
    if not frames:
        return OTHER
    if is_kernel(frames[0][1]):
        kernel = [s for s, d in frames if is_kernel(d)]
        entry = next((i for i, s in enumerate(kernel) if SYSCALL_ENTRY.search(s)), None)
        if entry is None:
            return "kernel: interrupts and softirq outside a system call"
        for part, pat in KERNEL_PARTS:
            if any(pat.search(s) for s in kernel[:entry]):
                return part
    for sym, _ in frames:
        for part, pat in user_parts:
            if pat.search(sym):
                return part
    return OTHER


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--cpu-us-per-delivery", type=float)
    ap.add_argument("--folded")
    ap.add_argument("--json")
    ap.add_argument("--role", choices=["server", "loadgen"], default="server",
                    help="whose samples: the server's parts, or the load generator's")
    args = ap.parse_args()
    loadgen = args.role == "loadgen"
    user_parts = (LOADGEN_PARTS if loadgen else []) + USER_PARTS
    parts = collections.Counter()
    folded = collections.Counter()
    total = 0
    for pid, period, frames in parse(sys.stdin):
        if pid != args.pid:
            continue
        total += 1
        parts[part_of(frames, user_parts)] += 1
        if args.folded:
            folded[";".join(s for s, _ in reversed(frames)) or "[unknown]"] += 1
    if total == 0:
        sys.exit(f"perf-breakdown: no samples of pid {args.pid}")
    rows = [(p, n / total) for p, n in parts.most_common()]
    per = args.cpu_us_per_delivery
    whose, unit = ("the load generator's", "received event") if loadgen else ("the server's", "delivery")
    print(f"| part of {whose} CPU | share of {total:,} samples |"
          + (f" µs per {unit} |" if per else ""))
    print("| :--- | ---: |" + (" ---: |" if per else ""))
    for part, share in rows:
        print(f"| {part} | {share * 100:.1f} % |" + (f" {share * per:.2f} |" if per else ""))
    if args.folded:
        with open(args.folded, "w") as f:
            for stack, n in folded.items():
                f.write(f"{stack} {n}\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"samples": total, "cpu_us_per_delivery": per,
                       "parts": [{"part": p, "share": s} for p, s in rows]}, f, indent=2)


if __name__ == "__main__":
    main()
