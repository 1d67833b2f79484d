"""Any torchvision classification model as a suite backbone, through torchvision's FX feature extraction.

The network is traced (`torchvision.models.feature_extraction`), cut after its deepest tap (the classifier is
dropped: tasks add their own heads), and returns the taps' outputs. Every tap's channels and stride come from one
dry forward of a 224 x 224 image at construction.
"""
from __future__ import annotations

import difflib
import math
import socket
from collections import OrderedDict
from pathlib import Path
from urllib.parse import urlparse

import torch
import torch.nn.functional as F
from torch import fx, nn

from .base import Backbone, FeatureInfo
from .weights import PretrainedWeightsError, check_spec, load_state_dict_into, looks_like_path, read_state_dict

DRY_RUN_SIZE = 224
WEIGHTS_HOST = "download.pytorch.org"
HEADS = ("fc", "classifier", "head", "heads")  # torchvision's names of classifier heads
AUX_MODELS = ("googlenet", "inception_v3")  # built without auxiliary classifiers (and without scipy's slow init)

# The last output before each downsampling, as timm's feature stages (the generic rule, `downsampling_taps`,
# finds the same; written out so the names stay put).
DEFAULT_TAPS = {
    "alexnet": ["features.1", "features.4", "features.11", "features.12"],
    "googlenet": ["conv1", "conv3", "inception3b", "inception4e", "inception5b"],
    "inception_v3": ["Conv2d_2b_3x3", "Conv2d_4a_3x3", "Mixed_5d", "Mixed_6e", "Mixed_7c"],
    "squeezenet1_0": ["features.1", "features.5", "features.10", "features.12"],
    "squeezenet1_1": ["features.1", "features.4", "features.7", "features.12"],
    "vgg16": ["features.3", "features.8", "features.15", "features.22", "features.29", "features.30"],
}

_GLOBAL_POOLS = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.Flatten)
_GLOBAL_POOL_FUNCTIONS = (F.adaptive_avg_pool2d, F.adaptive_max_pool2d, torch.flatten, torch.mean)


def _is_map(shape: tuple[int, ...] | None) -> bool:
    """An (N, C, H, W) map of the dry run's one square image (not NHWC, not windows or attention batched up)."""
    return shape is not None and len(shape) == 4 and shape[0] == 1 and shape[2] == shape[3] and shape[2] >= 1


def _stride(shape: tuple[int, ...]) -> int:
    """Power-of-two stride of a map of the dry run: 224 / size, rounded down ("valid" padding shrinks maps)."""
    return 2 ** math.floor(math.log2(DRY_RUN_SIZE / shape[2]) + 1e-6)


class TracedGraph:
    """The eval-mode graph of a torchvision model as its feature extraction traces it (nodes named by module
    path, e.g. `features.12.cat`), with every node's output shape from one dry forward of a zero image."""

    def __init__(self, model: nn.Module):
        from torch.fx.passes.shape_prop import ShapeProp
        from torchvision.models.feature_extraction import NodePathTracer
        training = model.training
        model.eval()
        try:
            tracer = NodePathTracer()
            graph = tracer.trace(model)
            with torch.no_grad():
                ShapeProp(fx.GraphModule(tracer.root, graph)).propagate(
                    torch.zeros(1, 3, DRY_RUN_SIZE, DRY_RUN_SIZE))
        finally:
            model.train(training)
        self.modules = dict(model.named_modules())
        self.nodes = [n for n in graph.nodes if n in tracer.node_to_qualname]
        self.names = [tracer.node_to_qualname[n] for n in self.nodes]
        self.shapes = [tuple(n.meta["tensor_meta"].shape) if hasattr(n.meta.get("tensor_meta"), "shape") else None
                       for n in self.nodes]

    def under(self, name: str) -> list[int]:
        """Positions of the nodes `name` stands for: the node itself, or every node of a module of that name."""
        return [i for i, n in enumerate(self.names) if n == name or n.startswith(name + ".")]

    def known_names(self) -> list[str]:
        """Node names and the module names above them (what `taps` accepts)."""
        names = dict.fromkeys(".".join(n.split(".")[:d]) for n in self.names for d in range(1, n.count(".") + 2))
        return list(names)

    def head_start(self) -> int:
        """Position of the first node of the classifier: a head module, or a top-level global pool / flatten."""
        for i, (name, node) in enumerate(zip(self.names, self.nodes)):
            if name.split(".")[0] in HEADS:
                return i
            if "." in name:
                continue  # global pools inside blocks (squeeze-excitation) are part of the body
            if (node.op == "call_module" and isinstance(self.modules.get(node.target), _GLOBAL_POOLS)
                    or node.op == "call_function" and node.target in _GLOBAL_POOL_FUNCTIONS
                    or node.op == "call_method" and node.target in ("flatten", "mean")):
                return i
        return len(self.nodes)

    def bottlenecks(self) -> list[bool]:
        """Whether every later node reads tensors only from this node or later ones (no skip connection or
        parallel branch crosses it): block and stage outputs, not the inside of a residual or inception block."""
        position = {node: i for i, node in enumerate(self.nodes)}
        crossing = [0] * (len(self.nodes) + 1)
        for j, node in enumerate(self.nodes):
            for source in node.all_input_nodes:
                i = position.get(source)
                if i is None or source.op == "get_attr" or self.shapes[i] is None or j - i < 2:
                    continue
                crossing[i + 1] += 1
                crossing[j] -= 1
        flags, open_edges = [], 0
        for i in range(len(self.nodes)):
            open_edges += crossing[i]
            flags.append(open_edges == 0 and self.nodes[i].op != "placeholder")
        return flags

    def readable_name(self, position: int, after: int) -> str:
        """The shortest module name whose last node is the one at `position` and which holds nothing at or before
        `after` (the previous tap), e.g. `layer1` for `layer1.2.relu_2`; else the node's own name."""
        parts = self.names[position].split(".")
        for depth in range(1, len(parts)):
            nodes = self.under(".".join(parts[:depth]))
            if nodes[-1] == position and nodes[0] > after:
                return ".".join(parts[:depth])
        return self.names[position]


def downsampling_taps(graph: TracedGraph, model_name: str) -> list[str]:
    """Default taps of any model: at each stride of the body (before its classifier), the last block output,
    preferring whole modules (`features.1`, not `features.2.0`, the norm before the next downsampling)."""
    end = graph.head_start()
    flags = graph.bottlenecks()
    outputs = [i for i in range(end) if flags[i] and graph.shapes[i] is not None]
    if not outputs or not _is_map(graph.shapes[outputs[-1]]):
        shape = graph.shapes[outputs[-1]] if outputs else None
        raise ValueError(f"backbone.model_name: torchvision '{model_name}' has no (N, C, H, W) feature map at the "
                         f"end of its body (its last output before the classifier has shape {shape}): it cannot be "
                         f"used as a convolutional backbone")
    levels: dict[int, list[int]] = {}  # stride -> positions of the block outputs at that stride
    for i in outputs:
        shape = graph.shapes[i]
        if _is_map(shape) and not (_stride(shape) == 1 and shape[1] <= 3):  # not a transformed input image
            levels.setdefault(_stride(shape), []).append(i)
    taps: list[str] = []
    previous = -1
    for stride in sorted(levels):
        candidates = [i for i in levels[stride] if i > previous]
        if not candidates:
            continue
        # the last whole module at this stride (a stage, not the norm that opens the next stage's downsampling)
        named = [(graph.readable_name(i, previous), i) for i in candidates]
        name, previous = min(named, key=lambda item: (item[0].count("."), -item[1]))
        taps.append(name)
    return taps


def _host_reachable(host: str = WEIGHTS_HOST, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _save_hint(model_name: str, weights: str) -> str:
    hint = (f"Fix: on a machine with internet, save them once, e.g.\n"
            f"  python -c \"import torch, torchvision; torch.save(torchvision.models.get_model('{model_name}', "
            f"weights='{weights}').state_dict(), 'weights.pth')\"\n"
            f"then pass the file: backbone.pretrained=/path/to/weights.pth (or a .safetensors file).")
    if model_name in AUX_MODELS:
        hint += " These weights expect +backbone.transform_input=true, which torchvision sets for its weights."
    return hint


def _create_pretrained(model_name: str, weights: str, kwargs: dict) -> nn.Module:
    """`torchvision.models.get_model(model_name, weights=...)` from the torch hub cache, or downloaded; offline
    without a cached file it fails at once with a message that says how to pass a local file instead."""
    import torchvision
    url = torchvision.models.get_model_weights(model_name)[weights].url
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name
    if not cached.is_file() and not _host_reachable():
        where = f" ({WEIGHTS_HOST} is unreachable: this machine looks offline, and {cached} is not cached)"
        raise PretrainedWeightsError(f"backbone.pretrained: could not get torchvision weights '{weights}' of "
                                     f"'{model_name}'{where}.\n{_save_hint(model_name, weights)}")
    try:
        return torchvision.models.get_model(model_name, weights=weights, **kwargs)
    except (OSError, RuntimeError) as err:  # download failed (URLError is an OSError), corrupt file
        raise PretrainedWeightsError(f"backbone.pretrained: could not get torchvision weights '{weights}' of "
                                     f"'{model_name}': {err}\n{_save_hint(model_name, weights)}") from err


class TorchvisionBackbone(Backbone):
    """A torchvision classification model without its classifier; taps are graph nodes or modules, by name.

    Args:
        model_name: a torchvision classification model (`torchvision.models.list_models(module=torchvision.models)`),
            e.g. googlenet, squeezenet1_0, alexnet, vgg16, resnet50.
        pretrained: a torchvision weights name of that model (e.g. `IMAGENET1K_V1`, `DEFAULT`; `true`: DEFAULT),
            read from the torch hub cache or downloaded; a local weights file (a state dict of the torchvision
            model, `.pth` loaded with `weights_only`, or `.safetensors`; it must cover every tensor of the
            backbone); or a checkpoint of this suite (`.ckpt`).
        taps: graph node or module names to return (`torchvision.models.feature_extraction.get_graph_node_names`),
            returned shallow to deep. Default: `DEFAULT_TAPS`, else the last block output at each stride.
        **kwargs: passed to the torchvision model (e.g. `transform_input=true` for googlenet with a local file of
            torchvision's ImageNet weights: torchvision sets it when it loads them by name).
    """

    def __init__(self, model_name: str, pretrained: str | None = None, taps: list[str] | str | None = None,
                 **kwargs):
        super().__init__()
        import torchvision
        from torchvision.models.feature_extraction import create_feature_extractor
        names = torchvision.models.list_models(module=torchvision.models)
        if model_name not in names:
            close = difflib.get_close_matches(model_name, names, n=5)
            raise ValueError(f"backbone.model_name: unknown torchvision model '{model_name}'. Close matches: {close}. "
                             f"See torchvision.models.list_models(module=torchvision.models) for all names.")
        if pretrained is True:  # `pretrained: true`: torchvision's default weights of the architecture
            pretrained = "DEFAULT"
        if pretrained is not None and pretrained is not False and not isinstance(pretrained, (str, Path)):
            raise PretrainedWeightsError(f"backbone.pretrained must be null, a torchvision weights name (e.g. "
                                         f"'IMAGENET1K_V1') or the path of a weights file, got {pretrained!r}")
        pretrained = check_spec(pretrained)
        weights_file = weights = None
        if pretrained and (Path(pretrained).is_file() or looks_like_path(pretrained)):
            weights_file = pretrained
        elif pretrained:
            choices = list(torchvision.models.get_model_weights(model_name).__members__)
            weights = pretrained.split(".")[-1]  # also `GoogLeNet_Weights.IMAGENET1K_V1`
            if weights not in choices:
                raise ValueError(f"backbone.pretrained: '{pretrained}' is neither a weights file nor torchvision "
                                 f"weights of '{model_name}' (one of {choices})")
        if model_name in AUX_MODELS and weights is None:  # torchvision sets both itself when it loads weights
            kwargs = {"aux_logits": False, "init_weights": False, **kwargs}
        if weights:
            model = _create_pretrained(model_name, weights, kwargs)
        else:
            model = torchvision.models.get_model(model_name, **kwargs)

        graph = TracedGraph(model)
        if taps is None:
            taps = DEFAULT_TAPS.get(model_name) or downsampling_taps(graph, model_name)
        taps = [taps] if isinstance(taps, str) else list(taps)
        if not taps:
            raise ValueError("backbone.taps is empty: name at least one graph node or module")
        unknown = [t for t in taps if not graph.under(t)]
        if unknown:
            close = difflib.get_close_matches(unknown[0], graph.known_names(), n=5)
            raise ValueError(f"backbone.taps: unknown tap(s) {unknown} of torchvision '{model_name}'. Close matches: "
                             f"{close}. Taps are graph node or module names, see torchvision.models."
                             f"feature_extraction.get_graph_node_names(torchvision.models.get_model('{model_name}')).")
        position = {}  # tap -> position of its output node; the same node named twice is returned once
        for tap in taps:
            i = graph.under(tap)[-1]
            if i not in position.values():
                position[tap] = i
            shape = graph.shapes[i]
            if not _is_map(shape):
                raise ValueError(f"backbone.taps: '{tap}' of torchvision '{model_name}' gives "
                                 f"{'a tensor of shape ' + str(shape) if shape else 'no tensor'}, "
                                 f"not an (N, C, H, W) feature map")
        ordered = sorted(position, key=position.get)
        self.feature_info = [FeatureInfo(t, graph.shapes[position[t]][1], _stride(graph.shapes[position[t]]))
                             for t in ordered]
        self.model_name = model_name
        self.model = create_feature_extractor(model, return_nodes={t: t for t in ordered})
        if weights_file:
            expected = (f"a state dict of torchvision '{model_name}' is expected, e.g. "
                        f"torch.save(torchvision.models.get_model('{model_name}', ...).state_dict(), path)")
            state = read_state_dict(weights_file)
            try:
                load_state_dict_into(self, state, weights_file)
            except PretrainedWeightsError as err:
                raise PretrainedWeightsError(f"{err} ({expected})") from err

    def adapt_state_dict(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A torchvision model's state dict in this module's layout (a suite checkpoint's keys already are)."""
        return {k if k.startswith("model.") else f"model.{k}": v for k, v in state.items()}

    def forward(self, images: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        out = self.model(images)
        return OrderedDict((f.name, out[f.name]) for f in self.feature_info)
