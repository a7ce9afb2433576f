"""Parameter and MAC counts, checked against hand computation."""

from snasnet.measure.complexity import complexity, layer_macs
from snasnet.network.model import build_model


def test_cifar100_golden_cell_macs_by_hand():
    model = build_model("cifar100", "0302 0030 3003 0000")
    conv3_c1 = 128 * 128 * 9 * 32 * 32  # 3x3, 128 -> 128 at 32x32
    conv1_c1 = 128 * 128 * 32 * 32
    conv3_c2 = 256 * 256 * 9 * 16 * 16
    conv1_c2 = 256 * 256 * 16 * 16
    # each cell: e01, e12, e23, e20 are conv3x3, e03 conv1x1
    per_step = (
        (4 * conv3_c1 + conv1_c1)
        + 128 * 256 * 9 * 32 * 32
        + (4 * conv3_c2 + conv1_c2)
        + 256 * 8 * 8 * 1024
        + 1024 * 500
    )
    c = complexity(model)
    assert c.stem_macs == 3 * 128 * 9 * 32 * 32
    assert c.macs_per_timestep == per_step == 1_560_793_088
    assert c.macs_per_image == c.stem_macs + 5 * per_step  # about 7.8 GMAC, as the issue says
    assert c.params == sum(p.numel() for p in model.parameters())
    names = [layer.name for layer in layer_macs(model)]
    assert names[0] == "stem.0" and names[-1] == "classifier.3" and len(names) == 14


def test_zero_and_parameter_free_edges_cost_nothing():
    only_skip = complexity(build_model("digits", "0001 0000 0000 0000", celltype="forward"))
    with_conv = complexity(build_model("digits", "0003 0000 0000 0000", celltype="forward"))
    # digits: cell 1 is 32 wide at 8x8, cell 2 64 wide at 4x4
    assert with_conv.macs_per_timestep - only_skip.macs_per_timestep == 32 * 32 * 9 * 8 * 8 + 64 * 64 * 9 * 4 * 4
    assert with_conv.params - only_skip.params == 32 * 32 * 9 + 2 * 32 + 64 * 64 * 9 + 2 * 64
