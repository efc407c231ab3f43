"""tl.viz: the backward graph as DOT text (checked as text) and, with Graphviz installed, as a picture."""
import shutil

import pytest

import minitl as tl
from minitl import nn, viz


def nodes_and_edges(dot):
    """{node id: label} and the list of (source label, target label) edges of DOT text made by to_dot."""
    labels, edges = {}, []
    for line in dot.splitlines():
        line = line.strip()
        if "[label=" in line:
            name, rest = line.split(" [label=", 1)
            labels[name] = rest.split('", ', 1)[0].strip('"')
        elif "->" in line:
            source, target = line.rstrip(";").split(" -> ")
            edges.append((labels[source], labels[target]))
    return labels, edges


def test_an_mlp_has_one_node_per_function_and_per_leaf_named_by_params():
    tl.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    loss = model(tl.randn(5, 3)).sum()
    labels, edges = nodes_and_edges(viz.to_dot(loss, params=dict(model.named_parameters())))
    functions = sorted(label.split("\\n")[0] for label in labels.values() if label.split("\\n")[0][0].isupper())
    assert functions == ["Add", "Add", "MatMul", "MatMul", "Permute", "Permute", "Relu", "Sum"]
    for name, shape in (("0.weight", "(4, 3)"), ("0.bias", "(4,)"), ("2.weight", "(2, 4)"), ("2.bias", "(2,)")):
        assert f"{name}\\n{shape} float32" in labels.values()
    assert "(5, 3) float32" in labels.values()  # the input: a leaf without a name
    assert ("0.bias\\n(4,) float32", "Add\\n(5, 4) float32") in edges
    assert ("Relu\\n(5, 4) float32", "MatMul\\n(5, 2) float32") in edges
    assert ("Sum\\n() float32", "output\\n() float32") in edges
    assert len(edges) == 13  # 8 Functions: 12 input arrows and the output's


def test_leaves_that_require_grad_are_filled_and_the_text_is_the_same_every_time():
    w = tl.tensor([1.0, 2.0], requires_grad=True)
    x = tl.tensor([3.0, 4.0])
    dot = viz.to_dot((w * x).sum(), params={"w": w, "x": x})
    assert 'label="w\\n(2,) float32", shape=ellipse, style=filled, fillcolor="lightblue"' in dot
    assert 'label="x\\n(2,) float32", shape=ellipse, style=filled, fillcolor="white"' in dot
    assert dot == viz.to_dot((w * x).sum(), params={"w": w, "x": x})


def test_a_leaf_used_twice_has_two_arrows():
    w = tl.tensor([1.0, 2.0], requires_grad=True)
    labels, edges = nodes_and_edges(viz.to_dot((w * w).sum(), params={"w": w}))
    assert edges.count(("w\\n(2,) float32", "Mul\\n(2,) float32")) == 2
    assert list(labels.values()).count("w\\n(2,) float32") == 1  # one node


def test_a_residual_block_joins_two_paths_at_the_add():
    tl.manual_seed(0)
    conv = nn.Conv2d(2, 2, 3, padding=1, bias=False)
    x = tl.randn(1, 2, 4, 4, requires_grad=True)
    out = (conv(x).relu() + x).sum()
    labels, edges = nodes_and_edges(viz.to_dot(out, params={"x": x, "conv.weight": conv.weight}))
    x_label = "x\\n(1, 2, 4, 4) float32"
    add = next(label for label in labels.values() if label.startswith("Add"))
    assert (x_label, add) in edges  # the shortcut
    into_conv = [target for source, target in edges if source == x_label and target != add]
    assert len(into_conv) == 1 and "Conv" in into_conv[0]  # and the convolution path


def test_gradients_shown_after_backward_with_the_graph_retained():
    w = tl.tensor([1.0, 2.0, 3.0, 4.0, 5.0], requires_grad=True)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    dot = viz.to_dot(loss, params={"w": w}, show_grad=True)
    assert "w\\n(5,) float32\\ngrad [2., 4., 6., 8., ...]" in dot
    loss.backward()  # frees it
    with pytest.raises(RuntimeError, match="freed by backward.*retain_graph=True"):
        viz.to_dot(loss)


def test_a_tensor_without_a_graph_is_one_leaf_and_non_tensors_are_refused():
    dot = viz.to_dot(tl.zeros(2))
    assert dot.count("->") == 0 and "(2,) float32" in dot
    with pytest.raises(TypeError, match="draws a Tensor's graph, got list"):
        viz.to_dot([1.0])


def test_save_writes_dot_text_and_says_how_to_get_graphviz(tmp_path, monkeypatch):
    picture = viz.graph((tl.tensor([1.0], requires_grad=True) * 2).sum())
    picture.save(tmp_path / "graph.dot")
    assert (tmp_path / "graph.dot").read_text() == picture.source
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        picture.save(tmp_path / "graph.svg")
    assert picture._repr_svg_() is None and picture._repr_markdown_().startswith("```dot")
    with pytest.raises(ValueError, match="extension"):
        picture.save(tmp_path / "graph")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed (apt-get install graphviz)")
def test_rendered_by_graphviz_as_svg_and_png(tmp_path):
    picture = viz.graph((tl.tensor([1.0, 2.0], requires_grad=True).exp() * 3).sum())
    svg = picture._repr_svg_()
    assert svg.lstrip().startswith("<?xml") and "Exp" in svg and "<svg" in svg
    picture.save(tmp_path / "graph.png")
    assert (tmp_path / "graph.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
