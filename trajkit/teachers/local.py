"""The local backend: a transformers causal LM on this machine (the embedded SmolLM2 default).

`model` is any model spec (`trajkit.models.specs.hf_folder`): unset or "embedded" (SmolLM2-135M), a
registry name, a local .gguf (converted once into a cached transformers folder), a local model
folder or a Hugging Face id.

Concurrent requests are batched into one `model.generate` call (`DynamicBatcher`): each
request's n samples become rows of a left-padded batch. Rows differ in temperature, top_p,
seed, max_tokens and stop strings, so all of that is per row:

- sampling: `generate` runs greedy, and `_RowSampler` (a logits processor) draws each sampling
  row's token from its own temperature/top-p distribution with its own seeded generator, then
  leaves only that token standing. Greedy rows pass through untouched.
- stopping: `_RowStopper` ends each row at EOS, at its first stop string or at its max_tokens,
  and records why and after how many tokens.
- shared prompts: the n samples of one request (self-consistent action generation asks for 8)
  share their prompt, so it is prefilled once and its KV cache copied to the n rows, instead
  of running the same prompt through the model n times.
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from trajkit.errors import ConfigError, require
from trajkit.progress import quiet_model_loading
from trajkit.teachers.base import (
    Choice,
    GenerationRequest,
    GenerationResponse,
    TeacherError,
    trim_at_stop,
)
from trajkit.teachers.batching import BatchedBackend, DynamicBatcher
from trajkit.teachers.chat_template import EMBEDDED, render_chat
from trajkit.teachers.config import LocalTeacher


@dataclass(frozen=True)
class _Row:
    request_index: int
    prompt_ids: list[int]
    temperature: float
    top_p: float
    seed: int
    max_tokens: int
    stop: tuple[str, ...]
    logprobs: bool = False  # capture the completion's token ids and logprobs


@dataclass
class _RowEnd:
    n_tokens: int  # tokens that belong to the text (EOS excluded)
    reason: str


class LocalBackend(BatchedBackend):
    name = "local"

    def __init__(self, config: LocalTeacher | None = None):
        config = config or LocalTeacher()
        model, dtype = config.model, config.dtype
        if dtype not in ("float32", "bfloat16", "float16"):
            raise ConfigError(
                f"dtype {dtype!r} is not supported", where="teacher.dtype",
                fix="use float32, bfloat16 or float16",
            )
        from trajkit.models.specs import spec_kind

        spec_kind(model, where="teacher.model")  # a missing path fails now, not at the first batch
        self.model = "SmolLM2-135M-Instruct" if model in (None, EMBEDDED) else str(model)
        self._model_ref = model
        self._dtype = dtype
        self._num_threads = config.num_threads or len(os.sched_getaffinity(0))
        self._default_max_tokens = config.default_max_tokens
        self._load_lock = threading.Lock()
        self._tokenizer = None
        self._lm = None
        self._batcher: DynamicBatcher[GenerationRequest, GenerationResponse] = DynamicBatcher(
            self._run_batch,
            max_batch=config.max_batch,
            max_wait_ms=config.max_wait_ms,
            size_of=lambda request: request.sampling.n,
            name="trajkit-local-teacher",
        )

    # ------------------------------------------------------------------ public

    @property
    def batch_sizes(self) -> list[int]:
        """Rows in each batch run so far (how well concurrency was batched)."""
        return self._batcher.batch_sizes

    def load(self) -> None:
        """Load tokenizer and weights now (otherwise the first batch does it)."""
        with self._load_lock:
            if self._lm is not None:
                return
            torch = require("torch", "embedded", "the local teacher backend")
            transformers = require("transformers", "embedded", "the local teacher backend")
            torch.set_num_threads(self._num_threads)
            from trajkit.models.specs import hf_folder

            path = hf_folder(self._model_ref, where="teacher.model")
            try:
                with quiet_model_loading():
                    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
                    lm = transformers.AutoModelForCausalLM.from_pretrained(
                        path, dtype=getattr(torch, self._dtype)
                    )
            except (OSError, ValueError) as exc:
                raise ConfigError(
                    f"cannot load a model from {path!r} ({type(exc).__name__}: {exc})",
                    where="teacher.model",
                    fix="give a registry name (trajkit models list), a local .gguf, a local "
                    "Hugging Face model folder or id, or leave model unset for the embedded SmolLM2",
                ) from exc
            if tokenizer.pad_token_id is None:
                tokenizer.pad_token = tokenizer.eos_token
            lm.eval()
            self._tokenizer, self._lm = tokenizer, lm

    # ------------------------------------------------------- batch (worker thread)

    def _run_batch(self, requests: list[GenerationRequest]) -> list[GenerationResponse | Exception]:
        self.load()
        results: list[GenerationResponse | Exception | None] = [None] * len(requests)
        rows: list[_Row] = []
        for index, request in enumerate(requests):
            try:
                rows.extend(self._rows_for(index, request))
            except TeacherError as exc:
                results[index] = exc
        if rows:
            ends, tokens, logprobs = self._generate_rows(rows)
            for index, request in enumerate(requests):
                if results[index] is None:
                    results[index] = self._response_for(index, request, rows, ends, tokens, logprobs)
        return results  # type: ignore[return-value]

    def _rows_for(self, index: int, request: GenerationRequest) -> list[_Row]:
        sampling = request.sampling
        prompt = render_chat(self._tokenizer, request.messages, request.assistant_prefix)
        prompt_ids = self._tokenizer(prompt, add_special_tokens=False)["input_ids"]
        context = getattr(self._lm.config, "max_position_embeddings", None) or 2048
        room = context - len(prompt_ids)
        if room < 1:
            raise TeacherError(
                f"the prompt has {len(prompt_ids)} tokens; {self.model} reads at most {context}",
                where="local teacher",
                fix="shorten the conversation (fewer steps or shorter observations)",
            )
        max_tokens = min(sampling.max_tokens or self._default_max_tokens, room)
        base_seed = sampling.seed if sampling.seed is not None else random.randrange(2**62)
        return [
            _Row(
                request_index=index,
                prompt_ids=prompt_ids,
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                seed=base_seed + sample,  # distinct samples for n > 1, reproducible with a seed
                max_tokens=max_tokens,
                stop=tuple(s for s in sampling.stop if s),
                logprobs=request.logprobs,
            )
            for sample in range(sampling.n)
        ]

    def _generate_rows(self, rows: list[_Row]):
        import torch
        from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteriaList

        tokenizer, lm = self._tokenizer, self._lm
        pad_id = tokenizer.pad_token_id
        width = max(len(row.prompt_ids) for row in rows)
        input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):  # left padding: every row's next token is at the end
            input_ids[i, width - len(row.prompt_ids) :] = torch.tensor(row.prompt_ids)
            attention[i, width - len(row.prompt_ids) :] = 1
        eos_ids = _eos_ids(lm, tokenizer)
        stopper = _RowStopper(rows, width, eos_ids, tokenizer)
        cache = _shared_prompt_cache(lm, rows, input_ids, attention)
        config = GenerationConfig(
            do_sample=False,
            max_new_tokens=max(row.max_tokens for row in rows),
            pad_token_id=pad_id,
            eos_token_id=eos_ids,
        )
        recorder = _LogprobRecorder(len(rows)) if any(row.logprobs for row in rows) else None
        processors = ([recorder] if recorder else []) + [_RowSampler(rows)]  # raw scores first
        with torch.inference_mode():
            output = lm.generate(
                input_ids=input_ids,
                attention_mask=attention,
                generation_config=config,
                logits_processor=LogitsProcessorList(processors),
                stopping_criteria=StoppingCriteriaList([stopper]),
                past_key_values=cache,
            )
        generated = output[:, width:].tolist()
        logprobs = recorder.finish(output) if recorder else None
        return stopper.finish(len(generated[0]) if generated else 0), generated, logprobs

    def _response_for(self, index, request, rows, ends, tokens, logprobs=None) -> GenerationResponse:
        choices, completion_tokens, prompt_tokens = [], 0, 0
        for r, row in enumerate(rows):
            if row.request_index != index:
                continue
            end = ends[r]
            text = self._tokenizer.decode(tokens[r][: end.n_tokens], skip_special_tokens=True)
            text, stopped = trim_at_stop(text, row.stop)
            ids = values = None
            if row.logprobs and logprobs is not None:
                ids, values = tokens[r][: end.n_tokens], logprobs[r][: end.n_tokens]
            choices.append(Choice(text, "stop" if stopped or end.reason == "eos" else end.reason, ids, values,
                                  stop=stopped, end_of_turn=end.reason == "eos"))
            completion_tokens += end.n_tokens
            prompt_tokens = len(row.prompt_ids)
        return GenerationResponse(choices, prompt_tokens, completion_tokens, 0.0)


def _shared_prompt_cache(lm, rows: Sequence[_Row], input_ids, attention):
    """The KV cache of every prompt position but the last, computed once per distinct request
    and copied to each of its rows; None when no two rows share a request (nothing to save)."""
    import torch

    first_row: dict[int, int] = {}  # request -> its first row, in order of appearance
    for r, row in enumerate(rows):
        first_row.setdefault(row.request_index, r)
    if len(first_row) == len(rows) or input_ids.shape[1] < 2:
        return None
    slot = {request: s for s, request in enumerate(first_row)}
    pick = torch.tensor(list(first_row.values()))
    ids, mask = input_ids[pick, :-1], attention[pick, :-1]
    positions = (mask.cumsum(-1) - 1).clamp(min=0)  # what generate derives for left padding
    with torch.inference_mode():
        output = lm(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1)
    cache = output.past_key_values
    cache.batch_select_indices(torch.tensor([slot[row.request_index] for row in rows]))
    return cache


def _eos_ids(lm, tokenizer) -> list[int]:
    ids = lm.generation_config.eos_token_id if lm.generation_config else None
    ids = [ids] if isinstance(ids, int) else list(ids or [])
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    return ids


class _LogprobRecorder:
    """Token-exact capture: the logprob of every generated token under the model's raw
    distribution (before temperature / top-p). Called first at each step with the raw scores; the
    token chosen at a step is read from `input_ids` at the next step (and from the output at the
    end), so only one step's log-softmax is held at a time."""

    def __init__(self, n_rows: int):
        self.values: list[list[float]] = [[] for _ in range(n_rows)]
        self._previous = None

    def __call__(self, input_ids, scores):
        import torch

        if self._previous is not None:
            self._take(input_ids[:, -1])
        self._previous = torch.log_softmax(scores.float(), dim=-1)
        return scores

    def _take(self, chosen) -> None:
        picked = self._previous.gather(-1, chosen.unsqueeze(-1)).squeeze(-1).tolist()
        for row, value in zip(self.values, picked, strict=True):
            row.append(value)

    def finish(self, sequences) -> list[list[float]]:
        if self._previous is not None:
            self._take(sequences[:, -1])
            self._previous = None
        return self.values


class _RowSampler:
    """Per-row temperature / top-p sampling inside a greedy `generate`: every sampling row draws
    its token from its own temperature/top-p distribution with its own seeded generator (so a
    row's text does not depend on what else is in the batch), and only that token is left
    standing. All sampling rows are handled in one vectorised pass per step."""

    def __init__(self, rows: Sequence[_Row]):
        import torch

        sampling = [i for i, row in enumerate(rows) if row.temperature > 0]
        self._index = torch.tensor(sampling, dtype=torch.long)
        self._generators = []
        for i in sampling:
            generator = torch.Generator()
            generator.manual_seed(rows[i].seed)
            self._generators.append(generator)
        self._temperature = torch.tensor([[rows[i].temperature] for i in sampling])
        self._top_p = torch.tensor([rows[i].top_p for i in sampling])

    def __call__(self, input_ids, scores):
        import torch

        if not self._generators:
            return scores
        index = self._index
        probs = torch.softmax(scores[index].float() / self._temperature, dim=-1)
        uniforms = torch.cat([torch.rand(1, generator=g) for g in self._generators])
        tokens = sample_top_p(probs, self._top_p, uniforms)
        scores[index] = float("-inf")
        scores[index, tokens] = 0.0
        return scores


NUCLEUS_SEARCH = 256  # look for the nucleus among this many most likely tokens first


def sample_top_p(probs, top_p, uniforms):
    """One token per row of `probs`: keep the most likely tokens up to a mass of `top_p` (the
    first always stays), then draw by inverse CDF with the row's uniform number in [0, 1)."""
    import torch

    width = min(probs.shape[-1], NUCLEUS_SEARCH)
    ranked, order = torch.topk(probs, width, dim=-1)
    if bool((top_p >= 1.0).any()) or bool((ranked.sum(-1) < top_p).any()):
        ranked, order = torch.sort(probs, descending=True, dim=-1)  # the nucleus is wider
    keep = (ranked.cumsum(-1) - ranked) <= top_p.unsqueeze(-1)
    cumulative = (ranked * keep).cumsum(-1)
    target = (uniforms * cumulative[:, -1]).unsqueeze(-1)
    position = torch.searchsorted(cumulative, target).clamp(max=ranked.shape[-1] - 1)
    return order.gather(-1, position).squeeze(-1)


class _RowStopper:
    """Ends each row at EOS, its first stop string, or its own max_tokens."""

    def __init__(self, rows: Sequence[_Row], prompt_width: int, eos_ids: list[int], tokenizer):
        self._rows = rows
        self._prompt_width = prompt_width
        self._eos = set(eos_ids)
        self._tokenizer = tokenizer
        self._ends: list[_RowEnd | None] = [None] * len(rows)
        # a stop string of k characters spans at most k tokens (+2 for byte-level merges)
        self._tail = [max((len(s) for s in row.stop), default=0) + 2 for row in rows]

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        generated = input_ids.shape[1] - self._prompt_width
        for i, row in enumerate(self._rows):
            if self._ends[i] is not None:
                continue
            last = int(input_ids[i, -1])
            if last in self._eos:
                self._ends[i] = _RowEnd(generated - 1, "eos")
            elif row.stop and self._hit_stop(input_ids[i], generated, i, row):
                self._ends[i] = _RowEnd(generated, "stop")
            elif generated >= row.max_tokens:
                self._ends[i] = _RowEnd(generated, "length")
        done = [end is not None for end in self._ends]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    def _hit_stop(self, ids, generated: int, i: int, row: _Row) -> bool:
        tail = ids[self._prompt_width :][-min(generated, self._tail[i]) :]
        text = self._tokenizer.decode(tail, skip_special_tokens=True)
        return any(s in text for s in row.stop)

    def finish(self, generated: int) -> list[_RowEnd]:
        """Rows never stopped ran to the batch's end (their own max_tokens or the context)."""
        return [
            end if end is not None else _RowEnd(min(generated, row.max_tokens), "length")
            for end, row in zip(self._ends, self._rows, strict=True)
        ]
