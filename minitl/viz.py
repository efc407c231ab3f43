"""A picture of the backward graph: Graphviz DOT text, rendered to SVG/PNG when Graphviz is installed.

    import minitl as tl
    picture = tl.viz.graph(loss, params=dict(model.named_parameters()))
    picture              # in a notebook: drawn inline (as SVG when Graphviz's `dot` is installed)
    print(picture.source)  # the DOT text itself
    picture.save("graph.svg")

What the picture shows, walking back from the tensor as ``backward()`` would:

- one box per Function (the operation that made a tensor: ``Mul``, ``MatMul``, ``Relu``...), labelled
  with its name and the shape and dtype of the tensor it made;
- one ellipse per leaf tensor (an input or a parameter), labelled with its name when ``params`` gives
  one, its shape and dtype; leaves that require grad are filled, the others left white; with
  ``show_grad=True``, its ``.grad`` after backward (shape and a few values);
- an arrow from each input to the Function that used it, so a tensor used twice has two arrows.

It needs the graph: draw it before ``backward()``, or pass ``retain_graph=True`` to backward (the engine
frees each Function's inputs as it goes). Making the DOT text needs nothing; drawing it needs the
``dot`` program of Graphviz (``apt-get install graphviz``, ``brew install graphviz`` or
``conda install graphviz``; the Python package alone is not enough).
"""
import shutil
import subprocess

import numpy as np

from minitl import backend
from minitl.autograd import Tensor

__all__ = ["GraphPicture", "graph", "to_dot"]


def _shape_and_dtype(tensor):
    return f"{tuple(tensor.shape)} {tensor.dtype}"


def _few_values(tensor, count=4):
    values = backend.to_numpy(tensor.data).ravel()
    shown = np.array2string(values[:count], precision=3, separator=", ")
    return shown[:-1] + ", ...]" if values.size > count else shown


def _quoted(text):
    """A DOT string: backslashes and quotes escaped, line breaks as DOT's \\n."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(tensor, params=None, show_grad=False):
    """The DOT text of `tensor`'s backward graph (see the module docstring). `params` maps names to tensors
    (e.g. ``dict(model.named_parameters())``) so leaves are labelled by name."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_dot() draws a Tensor's graph, got {type(tensor).__name__}")
    names = {id(value): name for name, value in (params or {}).items()}
    node_ids, lines, edges = {}, [], []

    def node(obj, label, attributes):
        if id(obj) not in node_ids:
            node_ids[id(obj)] = f"n{len(node_ids)}"
            lines.append(f"  {node_ids[id(obj)]} [label={_quoted(label)}, {attributes}];")
        return node_ids[id(obj)]

    def leaf(x):
        label = "\n".join(filter(None, [names.get(id(x)), _shape_and_dtype(x)]))
        if show_grad and x.grad is not None:
            label += f"\ngrad {_few_values(x.grad)}"
        fill = "lightblue" if x.requires_grad else "white"
        return node(x, label, f'shape=ellipse, style=filled, fillcolor="{fill}"')

    def function(fn, output):
        return node(fn, f"{type(fn).__name__}\n{_shape_and_dtype(output)}", "shape=box")

    root = tensor.grad_fn
    if root is None:
        leaf(tensor)
    else:
        output_node = node(tensor, f"{names.get(id(tensor), 'output')}\n{_shape_and_dtype(tensor)}",
                           'shape=ellipse, style=filled, fillcolor="lightyellow"')
        edges.append(f"  {function(root, tensor)} -> {output_node};")
        stack, seen = [(root, tensor)], set()
        while stack:  # depth first, inputs in order: the same graph always gives the same text
            fn, output = stack.pop()
            if id(fn) in seen:
                continue
            seen.add(id(fn))
            if fn.inputs is None:
                raise RuntimeError(f"the graph behind {type(fn).__name__} was freed by backward(): draw it before "
                                   f"backward(), or call backward(retain_graph=True)")
            upstream = []
            for x, producer in zip(fn.inputs, fn.producers):
                source = leaf(x) if producer is None else function(producer, x)
                edges.append(f"  {source} -> {function(fn, output)};")
                if producer is not None:
                    upstream.append((producer, x))
            stack.extend(reversed(upstream))
    body = lines + edges
    return "digraph backward {\n  rankdir=BT;\n  node [fontname=Helvetica, fontsize=10];\n" + "\n".join(body) + "\n}\n"


class GraphPicture:
    """DOT text that draws itself: ``.source`` is the text, ``.save(path)`` renders it by file extension,
    and a notebook shows it inline (SVG when Graphviz's `dot` is installed, else the text)."""

    def __init__(self, source):
        self.source = source

    def render(self, format="svg"):
        """The picture as bytes of `format` (svg, png, pdf...), drawn by Graphviz's `dot`."""
        dot = shutil.which("dot")
        if dot is None:
            raise RuntimeError("drawing the graph needs Graphviz's `dot` program: apt-get install graphviz "
                               "(or brew/conda install graphviz); .source has the DOT text meanwhile")
        return subprocess.run([dot, f"-T{format}"], input=self.source.encode(), capture_output=True,
                              check=True).stdout

    def save(self, path):
        """Write the picture to `path`: .dot (or .gv) writes the text, anything else is rendered by `dot`."""
        path = str(path)
        extension = path.rsplit(".", 1)[-1].lower() if "." in path else ""
        if extension in ("dot", "gv"):
            data = self.source.encode()
        elif extension:
            data = self.render(extension)
        else:
            raise ValueError(f"save(): give the file an extension (.svg, .png, .dot...), got {path!r}")
        with open(path, "wb") as file:
            file.write(data)

    def _repr_svg_(self):
        return self.render("svg").decode() if shutil.which("dot") else None

    def _repr_markdown_(self):
        return None if shutil.which("dot") else "```dot\n" + self.source + "```"

    def __repr__(self):
        return self.source


def graph(tensor, params=None, show_grad=False):
    """`tensor`'s backward graph as a GraphPicture (see the module docstring)."""
    return GraphPicture(to_dot(tensor, params, show_grad))
