"""Exact loss masks for chat conversations, for any chat template.

The template is treated as a black box: we render the conversation, then each prefix of it
(up to an assistant message with the generation prompt, and through that message), and read
off where every assistant turn's text and its end-of-turn marker sit in the full rendering.
No `{% generation %}` markers are needed. The rendering is then cut at every assistant-turn
boundary and each piece is tokenized on its own, so

- every token belongs to exactly one piece: a token is either assistant text (or its
  end-of-turn marker) or it is not, never both;
- the tokens before an assistant turn are the tokens of the prompt the model continues at
  inference (`prompt_ids`), for templates that close turns with special tokens (ChatML,
  Llama-3, Gemma on their own tokenizers);
- every piece is decoded back and compared with its text, so a tokenizer that does not
  round-trip is an error, not a silently wrong mask.

Loss goes on the assistant text and its end-of-turn marker (so the model learns to stop), with
the whitespace the template writes after the marker left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from trajkit.errors import TrajkitError


class TemplateError(TrajkitError):
    """A chat template cannot be used for exact masks (it rewrites or reorders turns)."""


class MaskError(TrajkitError):
    """A training example's loss mask is empty or does not match the assistant text."""


@dataclass(frozen=True)
class AssistantSpan:
    """Where one assistant message sits in the rendered conversation (character offsets)."""

    message_index: int
    start: int  # first character of the assistant text (end of the generation prompt)
    text_end: int  # end of the assistant text as rendered
    end: int  # end of the end-of-turn marker (trailing whitespace excluded)
    lead_trim: int = 0  # characters the template stripped from the start of the content


@dataclass(frozen=True)
class LossTurn:
    """An assistant message that carries loss, minus its first `skip_chars` characters."""

    message_index: int
    skip_chars: int = 0


@dataclass
class Plan:
    """A rendered conversation cut into pieces, each with or without loss."""

    text: str
    pieces: list[str]
    loss: list[bool]
    spans: list[AssistantSpan]
    where: str = "conversation"


@dataclass
class TokenizedChat:
    input_ids: list[int]
    assistant_masks: list[int]
    # token offset where each assistant message's text starts (its generation prompt ends)
    turn_starts: dict[int, int] = field(default_factory=dict)
    # token offset where each assistant message's end-of-turn marker ends
    turn_ends: dict[int, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def loss_tokens(self) -> int:
        return sum(self.assistant_masks)


def render(tokenizer, messages: Sequence[dict], *, add_generation_prompt: bool = False,
           chat_template: str | None = None) -> str:
    text = tokenizer.apply_chat_template(
        list(messages),
        tokenize=False,
        add_generation_prompt=add_generation_prompt,
        chat_template=chat_template,
    )
    if not isinstance(text, str):  # some processors return a list for batched input
        text = text[0]
    return text


def prompt_ids(tokenizer, messages: Sequence[dict], *, chat_template: str | None = None) -> list[int]:
    """Token ids of the prompt a model continues after `messages` (inference, evaluation).

    This is the rendering the training examples are checked against: the tokens of an
    example before assistant turn k equal `prompt_ids` of the messages before turn k.
    """
    text = render(tokenizer, messages, add_generation_prompt=True, chat_template=chat_template)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def assistant_spans(tokenizer, messages: Sequence[dict], *, chat_template: str | None = None,
                    where: str = "conversation") -> tuple[str, list[AssistantSpan]]:
    """The full rendering and the span of every assistant message in it."""
    full = render(tokenizer, messages, chat_template=chat_template)
    spans = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = render(tokenizer, messages[:index], add_generation_prompt=True, chat_template=chat_template)
        through = render(tokenizer, messages[: index + 1], chat_template=chat_template)
        if not through.startswith(before) or not full.startswith(through):
            raise TemplateError(
                f"the chat template does not render message {index} as a continuation of the "
                "conversation before it (it rewrites earlier turns or the generation prompt)",
                where=where,
                fix="use a chat template whose renderings of a conversation's prefixes are prefixes "
                "of its full rendering (set model.chat_template in the recipe)",
            )
        delta = through[len(before):]
        content = message["content"] or ""
        lead_trim = 0
        if delta.startswith(content) and content:
            text_len = len(content)
        elif content.strip() and delta.startswith(content.strip()):
            text_len = len(content.strip())
            lead_trim = len(content) - len(content.lstrip())
        else:
            raise TemplateError(
                f"the chat template changes the text of assistant message {index} "
                f"(rendered as {delta[:60]!r}, expected {content[:60]!r})",
                where=where,
                fix="use a chat template that writes assistant content verbatim",
            )
        marker = delta[text_len:].rstrip()
        if not marker:
            raise TemplateError(
                f"the chat template writes no end-of-turn marker after assistant message {index}",
                where=where,
                fix="use a chat template that closes assistant turns with an end-of-turn token",
            )
        start = len(before)
        spans.append(AssistantSpan(index, start, start + text_len, start + text_len + len(marker), lead_trim))
    return full, spans


def plan(tokenizer, messages: Sequence[dict], loss_turns: Sequence[LossTurn], *,
         chat_template: str | None = None, where: str = "conversation") -> Plan:
    """Cut the rendered conversation into pieces at every assistant-turn boundary."""
    full, spans = assistant_spans(tokenizer, messages, chat_template=chat_template, where=where)
    by_message = {span.message_index: span for span in spans}
    loss_ranges: list[tuple[int, int]] = []
    for turn in loss_turns:
        span = by_message.get(turn.message_index)
        if span is None:
            raise MaskError(f"message {turn.message_index} is not an assistant message", where=where)
        skip = max(0, turn.skip_chars - span.lead_trim)
        if span.start + skip >= span.text_end:
            continue  # the whole text is excluded: the turn carries no loss
        loss_ranges.append((span.start + skip, span.end))
    if not loss_ranges:
        raise MaskError(
            "empty loss mask: no assistant turn carries loss",
            where=where,
            fix="check the steps' train flags and the recipe's exclude_* options, or filter out "
            "trajectories without trainable steps",
        )
    cuts = {0, len(full)}
    for span in spans:
        cuts.update((span.start, span.end))
    for start, end in loss_ranges:
        cuts.update((start, end))
    ordered = sorted(cuts)
    pieces, loss = [], []
    range_iter = iter(sorted(loss_ranges))
    current = next(range_iter, None)
    for a, b in zip(ordered, ordered[1:], strict=False):
        if a == b:
            continue
        while current is not None and current[1] <= a:
            current = next(range_iter, None)
        pieces.append(full[a:b])
        loss.append(current is not None and current[0] <= a and b <= current[1])
    return Plan(text=full, pieces=pieces, loss=loss, spans=spans, where=where)


def tokenize_plans(tokenizer, plans: Sequence[Plan], *, verify: bool = True) -> list[TokenizedChat]:
    """Tokenize many plans in one batched tokenizer call; verify every piece round-trips."""
    flat = [piece for p in plans for piece in p.pieces]
    if not flat:
        return []
    ids = _encode(tokenizer, flat)
    if verify:
        decoded = _decode(tokenizer, ids)
    results = []
    position = 0
    for p in plans:
        input_ids: list[int] = []
        masks: list[int] = []
        turn_starts: dict[int, int] = {}
        turn_ends: dict[int, int] = {}
        span_starts = {span.start: span.message_index for span in p.spans}
        span_ends = {span.end: span.message_index for span in p.spans}
        offset = 0
        for piece, has_loss in zip(p.pieces, p.loss, strict=True):
            piece_ids = ids[position]
            if verify and decoded[position] != piece:
                raise MaskError(
                    f"the tokenizer does not reproduce the text {piece[:40]!r} "
                    f"(decodes to {decoded[position][:40]!r})",
                    where=p.where,
                    fix="use the tokenizer that belongs to the model and its chat template",
                )
            if offset in span_starts:
                turn_starts[span_starts[offset]] = len(input_ids)
            input_ids.extend(piece_ids)
            masks.extend([1 if has_loss else 0] * len(piece_ids))
            offset += len(piece)
            position += 1
            if offset in span_ends:
                turn_ends[span_ends[offset]] = len(input_ids)
        if not any(masks):
            raise MaskError("empty loss mask after tokenization", where=p.where)
        results.append(TokenizedChat(input_ids, masks, turn_starts, turn_ends))
    return results


def _encode(tokenizer, texts: list[str]) -> list[list[int]]:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:  # the Rust tokenizer directly: same ids, without per-item wrapping
        return [encoding.ids for encoding in backend.encode_batch(texts, add_special_tokens=False)]
    return tokenizer(texts, add_special_tokens=False)["input_ids"]


def _decode(tokenizer, ids: list[list[int]]) -> list[str]:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None and not getattr(tokenizer, "clean_up_tokenization_spaces", False):
        return backend.decode_batch(ids, skip_special_tokens=False)
    return tokenizer.batch_decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)


def tokenize_with_masks(tokenizer, messages: Sequence[dict], loss_turns: Sequence[LossTurn], *,
                        chat_template: str | None = None, where: str = "conversation") -> TokenizedChat:
    """One conversation to `input_ids` + `assistant_masks` (1 = carries loss)."""
    p = plan(tokenizer, messages, loss_turns, chat_template=chat_template, where=where)
    return tokenize_plans(tokenizer, [p])[0]


def masked_runs(input_ids: Sequence[int], masks: Sequence[int]) -> list[list[int]]:
    """The token ids of every contiguous run of loss-carrying tokens, in order."""
    runs: list[list[int]] = []
    previous = 0
    for token, bit in zip(input_ids, masks, strict=True):
        if bit and not previous:
            runs.append([])
        if bit:
            runs[-1].append(token)
        previous = bit
    return runs
