"""Distinct pre-made request bodies posted by wrk, each answer checked (bench.ingest's
single-event figure).

The Python client threads (`bench.ingest.post_all`) cost ~200-300 us of CPU a request
on the machine they measure (docs/PERFORMANCE.md, "single34"): at ~1,500 requests/s a
third of a core of two taken from the server. wrk (C, epoll, LuaJIT) costs a fraction
of that. Its Lua script (`SCRIPT`) gives each of wrk's threads every n-th line of a
file of bodies, posts each once (no body is sent twice: a log answers a repeat as a
duplicate), and counts the answers that are a new receipt in a checkpoint including it
(201, ``"duplicate":false``, the checkpoint's size above the receipt's index) apart
from any other; a thread that runs out of bodies stops (and says so: the rate is then
not the server's). wrk runs for whole seconds, so the bodies must outnumber what the
server can take in that time.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

from bench.server import WRK_THREADS, wrk_run

#: wrk's Lua: args are the bodies' file (one a line) and the number of wrk threads
SCRIPT = r"""
local threads, made = {}, 0
function setup(thread)
  thread:set("id", made)
  made = made + 1
  table.insert(threads, thread)
end
function init(args)
  local n = tonumber(args[2])
  bodies, i = {}, 0
  for line in io.lines(args[1]) do
    if i % n == id then bodies[#bodies + 1] = line end
    i = i + 1
  end
  nxt, created, refused, ran_out, first_status = 1, 0, 0, 0, 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  local body = bodies[nxt]
  if body == nil then  -- never a body twice: stop this thread (its rate is then short)
    ran_out = 1
    wrk.thread:stop()
    return wrk.format("GET", "/healthz", {}, nil)
  end
  nxt = nxt + 1
  return wrk.format(nil, nil, nil, body)
end
function response(status, headers, body)
  local new = false
  if status == 201 then
    local index = tonumber(string.match(body, '"index":(%d+),'))
    local size = tonumber(string.match(body, '"checkpoint":"[^"\\]*\\n(%d+)\\n'))
    new = index ~= nil and size ~= nil and size > index
      and string.find(body, '"duplicate":false', 1, true) ~= nil
  end
  if new then
    created = created + 1
  elseif ran_out == 0 then
    refused = refused + 1
    if first_status == 0 then first_status = status end
  end
end
function done(summary, latency, requests)
  local sums = {created = 0, refused = 0, ran_out = 0, first_status = 0}
  for _, t in ipairs(threads) do
    for name, _ in pairs(sums) do
      if name == "first_status" then
        if sums[name] == 0 then sums[name] = t:get(name) end
      else
        sums[name] = sums[name] + t:get(name)
      end
    end
  end
  for name, value in pairs(sums) do io.write(string.format("counter %s %d\n", name, value)) end
end
"""


def available() -> bool:
    """Whether wrk is installed (`make bench-sysdeps` installs it where it can)."""
    return shutil.which("wrk") is not None


@dataclass(frozen=True)
class Posted:
    """What wrk's run did: new receipts, other answers, and over how long."""

    created: int
    refused: int
    #: a thread ran out of bodies before the run's end (the rate is then too low)
    ran_out: bool
    #: the status of the first answer that was not a new receipt (0: none)
    first_status: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        """New receipts a second."""
        return self.created / self.seconds


def post_each(url: str, bodies: Sequence[bytes], seconds: int, connections: int) -> Posted:
    """Post ``bodies`` (one line each: compact JSON) to ``url`` for ``seconds`` on
    ``connections`` keep-alive connections, each body at most once; count the answers
    (raises SystemExit if wrk cannot run: `available` first)."""
    with tempfile.NamedTemporaryFile("wb", suffix=".bodies") as lines:
        if any(b"\n" in body for body in bodies):
            raise ValueError("a body spans lines: post compact JSON")
        lines.write(b"\n".join(bodies) + b"\n")
        lines.flush()
        result = wrk_run(url, seconds, connections, SCRIPT, (lines.name, str(WRK_THREADS)))
    return Posted(
        created=int(result["created"]),
        refused=int(result["refused"]),
        ran_out=result["ran_out"] > 0,
        first_status=int(result["first_status"]),
        seconds=result["seconds"],
        p50_ms=result["p50_ms"],
        p99_ms=result["p99_ms"],
    )
