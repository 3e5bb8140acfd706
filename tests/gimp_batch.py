"""Runs inside GIMP (python-fu-eval, the chroot's Python: no numpy, no pytest).

`CHROMAHINT_BATCH_OUT` names a folder shared with the host. The script reads
`OUT/spec.json`, builds the images it describes (pixels from raw files beside it), runs
the steps (procedure calls, selections, palettes, settings edits) and writes what it saw
to `OUT/report.json` plus raw pixel dumps, for the host-side test to check with numpy.
Each step's failure is recorded, not raised, so one broken step does not hide the rest.
"""

import json
import os
import signal
import sys
import threading
import time
import traceback

from gi.repository import Babl, Gegl, Gimp, Gio

# The installed plug-in's folder (and the wheels it vendors) first on sys.path, as its entry
# file puts them, so the driver finds layers with the plug-in's own code.
PLUGIN_DIR = os.path.join(Gimp.directory(), "plug-ins", "chromahint-gimp")
sys.path[0:0] = [PLUGIN_DIR, os.path.join(PLUGIN_DIR, "vendor")]
from chromahint_gimp import layers  # noqa: E402

OUT = os.environ["CHROMAHINT_BATCH_OUT"]
with open(os.path.join(OUT, "spec.json")) as spec_file:
    SPEC = json.load(spec_file)
IMAGES: dict = {}
REPORT: dict = {"steps": {}, "setup_error": None}


def rect(w, h):
    return Gegl.Rectangle.new(0, 0, w, h)


def find_layer(image, name):
    """The plug-in's find_layer, raising KeyError when there is no such layer."""
    layer = layers.find_layer(image, name)
    if layer is None:
        raise KeyError(f"no layer {name!r}")
    return layer


def layer_tree(image):
    return [layer.get_name() for layer in image.get_layers()]


def build_image(key, desc):
    precision = getattr(Gimp.Precision, desc["precision"])
    base = getattr(Gimp.ImageBaseType, desc["base"])
    image = Gimp.Image.new_with_precision(desc["width"], desc["height"], base, precision)
    for ld in desc["layers"]:  # bottom to top
        layer = Gimp.Layer.new(
            image,
            ld["name"],
            ld["width"],
            ld["height"],
            getattr(Gimp.ImageType, ld["type"]),
            100.0,
            Gimp.LayerMode.NORMAL,
        )
        image.insert_layer(layer, None, 0)
        layer.set_offsets(*ld.get("offsets", (0, 0)))
        with open(os.path.join(OUT, ld["file"]), "rb") as f:
            data = f.read()
        buf = layer.get_buffer()
        buf.set(rect(ld["width"], ld["height"]), ld["babl"], data)
        buf.flush()
    image.clean_all()
    IMAGES[key] = image


def resolve(value):
    """Spec values: plain JSON, or {"layer": [image, name]} / {"palette": name} /
    {"file": name of a file in OUT}."""
    if isinstance(value, dict) and "layer" in value:
        image_key, name = value["layer"]
        return find_layer(IMAGES[image_key], name)
    if isinstance(value, dict) and "palette" in value:
        return Gimp.Palette.get_by_name(value["palette"])
    if isinstance(value, dict) and "file" in value:
        return Gio.File.new_for_path(os.path.join(OUT, value["file"]))
    return value


def dump(step_id, image, name, babl):
    layer = find_layer(image, name)
    w, h = layer.get_width(), layer.get_height()
    data = bytes(layer.get_buffer().get(rect(w, h), 1.0, babl, Gegl.AbyssPolicy.NONE))
    file = f"{step_id}-{name}-{len(data)}.raw".replace(" ", "_")
    with open(os.path.join(OUT, file), "wb") as f:
        f.write(data)
    _, ox, oy = layer.get_offsets()
    return {"file": file, "width": w, "height": h, "offsets": [ox, oy], "babl": babl}


def palette_info(name):
    palette = Gimp.Palette.get_by_name(name)
    if palette is None:
        return None
    entries = []
    for i in range(palette.get_color_count()):
        _, entry_name = palette.get_entry_name(i)
        color = palette.get_entry_color(i)
        srgb = color.get_bytes(Babl.format("R'G'B' u8")).get_data()
        entries.append({"name": entry_name, "rgb": list(srgb)})
    return {"name": palette.get_name(), "count": palette.get_color_count(), "entries": entries}


def wait_for(marker, limit=120.0):
    """Block until the host creates OUT/marker (GIMP's own main loop keeps running)."""
    path = os.path.join(OUT, marker)
    deadline = time.monotonic() + limit
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the host did not create {marker} within {limit:g} s")
        time.sleep(0.1)


def tell_host(name, data=None):
    """Tell the host something happened: write OUT/name atomically."""
    tmp = os.path.join(OUT, name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.rename(tmp, os.path.join(OUT, name))


def run_step(step):
    out = {}
    image = IMAGES.get(step.get("image"))
    if "wait_for" in step:
        wait_for(step["wait_for"])
    if step.get("display"):
        Gimp.Display.new(image)
    if step.get("clear_undo"):
        # Disabling drops every undo step; what follows starts from an empty stack.
        image.undo_disable()
        image.undo_enable()
    for name, babl in step.get("dump_before", []):
        out.setdefault("before", {})[name] = dump(step["id"] + "-before", image, name, babl)
    if "settings" in step:
        path = os.path.join(PLUGIN_DIR, "chromahint.json")
        with open(path) as f:
            doc = json.load(f)
        doc.update(step["settings"])
        with open(path, "w") as f:
            json.dump(doc, f)
    if "plugin_file" in step:  # e.g. a broken module shadowing a dependency
        path = os.path.join(PLUGIN_DIR, step["plugin_file"]["path"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(step["plugin_file"]["text"])
    if "make_palette" in step:
        spec = step["make_palette"]
        palette = Gimp.Palette.new(spec["name"])
        for i, hex_color in enumerate(spec["colors"]):
            palette.add_entry(f"color {i}", Gegl.Color.new(hex_color))
        out["palette_name"] = palette.get_name()
    if "select" in step:
        x, y, w, h = step["select"]
        image.select_rectangle(Gimp.ChannelOps.REPLACE, x, y, w, h)
    # Signals for an engine (same pid namespace: the chroot is not a container), sent while the
    # step's procedure runs: [[seconds, pid, "SIGSTOP"], ...]; those at 0 s before it starts.
    for delay, pid, name in step.get("signals", []):
        if delay <= 0:
            os.kill(pid, getattr(signal, name))
        else:
            threading.Timer(delay, os.kill, (pid, getattr(signal, name))).start()
    started = time.monotonic()
    if "proc" in step:
        pdb = Gimp.get_pdb()
        proc = pdb.lookup_procedure(step["proc"])
        if proc is None:
            raise RuntimeError(f"procedure {step['proc']} is not registered")
        config = proc.create_config()
        interactive = step.get("interactive", False)
        mode = Gimp.RunMode.INTERACTIVE if interactive else Gimp.RunMode.NONINTERACTIVE
        config.set_property("run-mode", mode)
        config.set_property("image", image)
        config.set_core_object_array(
            "drawables", [find_layer(image, n) for n in step.get("drawables", [])]
        )
        for key, value in step.get("props", {}).items():
            config.set_property(key, resolve(value))
        if interactive:
            tell_host(step["id"] + ".dialog")  # the host answers the dialog
        result = proc.run(config)
        out["status"] = result.index(0).value_nick
        second = result.index(1) if result.length() > 1 else None
        if out["status"] == "success":
            out["value"] = second.get_name() if second is not None else None
        else:
            out["message"] = second
        out["seconds"] = round(time.monotonic() - started, 2)
    for pid, name in step.get("signals_after", []):
        os.kill(pid, getattr(signal, name))
    if image is not None:
        out["layers"] = layer_tree(image)
        out["base"] = image.get_base_type().value_nick
        out["precision"] = image.get_precision().value_nick
    for name, babl in step.get("dump_after", []):
        out.setdefault("after", {})[name] = dump(step["id"] + "-after", image, name, babl)
    if "palette" in step:
        out["palette"] = palette_info(step["palette"])
        out["palette_duplicate"] = palette_info(step["palette"] + " #1") is not None
    return out


try:
    for key, desc in SPEC["images"].items():
        build_image(key, desc)
except Exception:
    REPORT["setup_error"] = traceback.format_exc()
else:
    for step in SPEC["steps"]:
        try:
            REPORT["steps"][step["id"]] = run_step(step)
        except Exception:
            REPORT["steps"][step["id"]] = {"error": traceback.format_exc()}
        tell_host(f"step-{step['id']}.json", REPORT["steps"][step["id"]])
for image in IMAGES.values():
    image.delete()
with open(os.path.join(OUT, "report.json"), "w") as f:
    json.dump(REPORT, f, indent=1)
