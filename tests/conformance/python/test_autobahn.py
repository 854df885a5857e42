"""The Autobahn TestSuite's own case files against `/echo`, run by kosoku.

The Autobahn TestSuite (`autobahntestsuite` on PyPI) is Python 2 code and
does not run here (docs/conformance.md says what was tried). kosoku, from
PyPI, runs the same case files (auto-translated to Python 3) with a runner
written in Rust, and grades them with Autobahn's verdicts.

Cases 12.* and 13.* test permessage-deflate, which pushbench does not
negotiate: Autobahn marks them UNIMPLEMENTED, so they are left out.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

# Autobahn's 9.* cases send messages of up to 16 MiB.
SIXTEEN_MIB = 16 * 1024 * 1024
# Verdicts that pass in Autobahn's own report (green boxes).
PASSING = {"OK", "NON-STRICT", "INFORMATIONAL"}


@pytest.mark.expect("cases 1.* to 10.*: every verdict OK, NON-STRICT or INFORMATIONAL")
def test_autobahn_cases_on_echo(own_server, observed):
    kosoku = pytest.importorskip("kosoku")
    srv = own_server(
        "--rate", "0",
        "--max-payload", str(SIXTEEN_MIB + 1024), "--max-frame", str(SIXTEEN_MIB + 1024),
    )

    async def go():
        try:
            return await asyncio.wait_for(
                kosoku.run_fuzzingclient(
                    srv.url("/echo"), exclude_cases=["12.*", "13.*"], concurrency=2
                ),
                timeout=300,
            )
        except kosoku.FailureError as failure:
            return failure.results

    results = asyncio.run(go())
    verdicts = Counter(r.behavior.value for r in results)
    close_verdicts = Counter(r.behavior_close.value for r in results)
    lenient = sorted(
        f"{r.case_id} {r.behavior.value}" for r in results if r.behavior.value != "OK"
    )
    observed(
        f"{len(results)} cases: "
        + ", ".join(f"{n} {v}" for v, n in sorted(verdicts.items()))
        + (f" ({'; '.join(lenient)})" if lenient else "")
    )
    bad = [
        f"{r.case_id}: {r.behavior.value}/{r.behavior_close.value}"
        for r in results
        if r.behavior.value not in PASSING or r.behavior_close.value not in PASSING
    ]
    assert len(results) > 250, "the whole suite ran"
    assert not bad, f"failing cases: {bad}; close verdicts {dict(close_verdicts)}"
