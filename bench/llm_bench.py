"""Benchmark the local GGUF LLM: model join time, load time, prompt and generation tokens/s."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import litellm  # noqa: E402

from datavault_dagster.services.local_llm import (  # noqa: E402
    DEFAULT_MODEL,
    N_CTX,
    ensure_model_file,
    get_server,
    register_local_provider,
)

CONTEXT = "\n".join(
    [
        "[R1] Patient P-12 (age 54) was prescribed metformin 500 mg twice daily on 2024-03-02.",
        "[R2] Patient P-12 reported mild nausea at the follow-up visit on 2024-03-16.",
        "[R3] Patient P-31 was prescribed lisinopril 10 mg once daily for hypertension.",
        "[R4] Patient P-12 HbA1c fell from 8.1% to 7.2% between March and June 2024.",
        "[R5] Account A-77 received a wire transfer of 12,400 EUR flagged for manual review.",
        "[R6] Patient P-45 has a documented penicillin allergy (rash, 2019).",
        "[R7] Patient P-12 was referred to a dietitian; the first session is booked for 2024-07-01.",
        "[R8] Patient P-31 blood pressure at last visit: 138/86 mmHg.",
    ]
)
MESSAGES = [
    {
        "role": "system",
        "content": "Answer only from the context and cite record ids like [R1]. "
        "If the answer is not in the context, say you don't know.",
    },
    {
        "role": "user",
        "content": f"Context:\n{CONTEXT}\n\nQuestion: What medication was P-12 prescribed, how did their "
        "HbA1c change, and what follow-up is planned?",
    },
]


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, help="reuse this data dir (default: fresh temp dir, removed)")
    parser.add_argument("--runs", type=int, default=3, help="timed generations (prompt cache disabled)")
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()

    tmp = None if args.data_dir else Path(tempfile.mkdtemp(prefix="llm_bench_"))
    data_dir = args.data_dir or tmp
    assert data_dir is not None
    try:
        existed = (data_dir / "models").exists()
        started = time.perf_counter()
        model_path = ensure_model_file(data_dir)
        join_s = time.perf_counter() - started
        print(f"model join+verify: {join_s:.2f}s ({'verified existing file' if existed else 'fresh join'})")

        started = time.perf_counter()
        server = get_server(model_path)
        print(f"model load:        {time.perf_counter() - started:.2f}s (n_ctx={N_CTX}, cpus={os.cpu_count()})")

        prompt_rates, gen_rates = [], []
        for run in range(1, args.runs + 1):
            started = time.perf_counter()
            result = server.handle_chat_completions(
                {
                    "messages": MESSAGES,
                    "max_tokens": args.max_tokens,
                    "temperature": 0.2,
                    "cache_prompt": False,
                }
            )
            wall = time.perf_counter() - started
            t = result["timings"]
            prompt_rates.append(t["prompt_per_second"])
            gen_rates.append(t["predicted_per_second"])
            print(
                f"run {run}: prompt {t['prompt_n']} tok @ {t['prompt_per_second']:.1f} tok/s, "
                f"generated {t['predicted_n']} tok @ {t['predicted_per_second']:.1f} tok/s, wall {wall:.2f}s"
            )
        print(f"prompt tokens/s:    {sum(prompt_rates) / len(prompt_rates):.1f} (mean of {args.runs})")
        print(f"generated tokens/s: {sum(gen_rates) / len(gen_rates):.1f} (mean of {args.runs})")

        register_local_provider(data_dir)
        started = time.perf_counter()
        response = litellm.completion(model=DEFAULT_MODEL, messages=MESSAGES, max_tokens=args.max_tokens)
        print(f"litellm.completion end-to-end: {time.perf_counter() - started:.2f}s, usage {response.usage}")
        print(f"answer: {response.choices[0].message.content!r}")
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
