#!/usr/bin/env python3
"""Records reference chat-template renderings for the Go tests.

Run once from the repository root (needs `pip install jinja2 gguf`):

    python3 internal/engine/chat/testdata/gen_golden.py

It renders every case in cases.json with Python Jinja2 set up the way
transformers' apply_chat_template sets it up (sandboxed environment,
trim_blocks, lstrip_blocks, its tojson filter, raise_exception,
strftime_now) and writes golden.json. smollm2.jinja is copied from the
SmolLM2 GGUF's tokenizer.chat_template when the model is present
($OUTCROP_MODELS_DIR, else ${XDG_DATA_HOME:-$HOME/.local/share}/outcrop/models).
Messages are converted to the dict shape the Go package builds: role,
content, then tool_calls / tool_call_id / name when set; tool calls are
{"id"?, "type": "function", "function": {"name", "arguments"}} and tools
{"type": "function", "function": {"name", "description", "parameters"}}.
"""
import json
import os
from datetime import datetime

from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))


def raise_exception(message):
    raise TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(fmt):
    # A fixed clock keeps goldens stable; the Go test pins the same instant.
    return datetime(2024, 7, 26, 12, 0, 0).strftime(fmt)


def environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def message_dict(m):
    d = {"role": m["role"], "content": m.get("content", "")}
    if m.get("tool_calls"):
        calls = []
        for c in m["tool_calls"]:
            call = {}
            if c.get("id"):
                call["id"] = c["id"]
            call["type"] = "function"
            call["function"] = {"name": c["name"], "arguments": c["arguments"]}
            calls.append(call)
        d["tool_calls"] = calls
    if m.get("tool_call_id"):
        d["tool_call_id"] = m["tool_call_id"]
    if m.get("name"):
        d["name"] = m["name"]
    return d


def tool_dict(t):
    return {"type": "function", "function": {"name": t["name"], "description": t["description"],
                                             "parameters": t["parameters"]}}


def smollm2_template():
    models_dir = os.environ.get("OUTCROP_MODELS_DIR") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "outcrop", "models")
    path = os.path.join(models_dir, "SmolLM2-135M-Instruct.Q4_1.gguf")
    if not os.path.exists(path):
        return
    import gguf
    f = gguf.GGUFReader(path).fields["tokenizer.chat_template"]
    with open(os.path.join(HERE, "smollm2.jinja"), "w") as out:
        out.write(bytes(f.parts[f.data[0]]).decode("utf-8"))


def main():
    smollm2_template()
    env = environment()
    with open(os.path.join(HERE, "cases.json")) as f:
        cases = json.load(f)
    out = {}
    for c in cases:
        with open(os.path.join(HERE, c["template"])) as f:
            tpl = env.from_string(f.read())
        kwargs = {
            "messages": [message_dict(m) for m in c["messages"]],
            "add_generation_prompt": c.get("add_generation_prompt", False),
            "bos_token": c.get("bos", ""),
            "eos_token": c.get("eos", ""),
        }
        if c.get("tools"):
            kwargs["tools"] = [tool_dict(t) for t in c["tools"]]
        try:
            out[c["name"]] = {"output": tpl.render(**kwargs)}
        except TemplateError as e:
            out[c["name"]] = {"error": str(e)}
    with open(os.path.join(HERE, "golden.json"), "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
