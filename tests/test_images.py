"""Image helpers and the preprocessing of user uploads."""
import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from gen.images import grid, preprocess, to_float, to_uint8, upscale


def drawing(size=200, ink=0, paper=255, mode="L", box=(30, 20, 90, 130)):
    """A thick ring (a '0') drawn off-centre, up and to the left."""
    img = Image.new(mode, (size, size), paper)
    ImageDraw.Draw(img).ellipse(box, outline=ink, width=12)
    return img


def centre_of_mass(a):
    ys, xs = np.indices(a.shape)
    w = a.astype(np.float64)
    return (ys * w).sum() / w.sum(), (xs * w).sum() / w.sum()


def check_mnist_like(out):
    assert out.image.shape == (28, 28) and out.image.dtype == np.uint8
    assert out.image.max() == 255
    border = np.concatenate([out.image[:3].ravel(), out.image[-3:].ravel(), out.image[:, :3].ravel(),
                             out.image[:, -3:].ravel()])
    assert border.max() == 0  # black background, the digit inside the 20x20 box
    cy, cx = centre_of_mass(out.image)
    assert abs(cy - 14) < 1.5 and abs(cx - 14) < 1.5, (cy, cx)


def test_uint8_float_round_trip():
    a = np.random.default_rng(0).integers(0, 256, (3, 5, 7), dtype=np.uint8)
    x = to_float(a)
    assert x.shape == (3, 1, 5, 7) and x.min() >= 0 and x.max() <= 1
    assert np.array_equal(to_uint8(x), a)
    s = to_float(a, signed=True)
    assert s.min() >= -1 and s.max() <= 1 and s.min() < -0.9
    assert np.array_equal(to_uint8(s, signed=True), a)
    assert np.array_equal(to_uint8(torch.tensor([[-0.5, 2.0]])), np.array([[0, 255]], dtype=np.uint8))


def test_upscale_blocks():
    a = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    big = upscale(a, 448)
    assert big.shape == (448, 448) and big.dtype == np.uint8
    assert np.array_equal(big, a.repeat(16, 0).repeat(16, 1))
    assert np.array_equal(big[16 * 3:16 * 4, 16 * 5:16 * 6], np.full((16, 16), a[3, 5]))


def test_upscale_sizes_a_strip_by_its_longer_side():
    strip = np.zeros((30, 262), np.uint8)  # nine 28 px images in a row
    assert upscale(strip, 800).shape == (90, 786)
    assert upscale(strip, 100).shape == (30, 262)  # never below its own size


def test_grid_shape():
    ims = np.full((10, 28, 28), 255, dtype=np.uint8)
    g = grid(ims, nrow=5, pad=2)
    assert g.shape == (2 * 30 + 2, 5 * 30 + 2)
    assert g[2:30, 2:30].min() == 255 and g[0, 0] == 128
    assert grid(ims).shape == (3 * 30 + 2, 4 * 30 + 2)  # default: ceil(sqrt(10)) = 4 per row


def test_black_on_white_is_inverted_and_centred():
    out = preprocess(drawing())
    assert out.inverted
    assert out.gray.shape == (200, 200)
    check_mnist_like(out)
    # white on black already: not inverted, same result
    plain = preprocess(drawing(ink=255, paper=0))
    assert not plain.inverted
    assert np.abs(plain.image.astype(int) - out.image.astype(int)).max() <= 1


def test_rgba_with_transparent_background():
    img = Image.new("RGBA", (120, 100), (0, 0, 0, 0))  # transparent "black" pixels are paper, not ink
    ImageDraw.Draw(img).line([(20, 10), (30, 90)], fill=(0, 0, 0, 255), width=8)
    out = preprocess(img)
    assert out.inverted
    check_mnist_like(out)


def test_16_bit_image():
    # a 16-bit scan: grey paper at 20000, ink at 60800 (clipping to 8 bits would make it flat white)
    a = 20000 + np.asarray(drawing(ink=255, paper=0), dtype=np.uint16) * 160
    img = Image.fromarray(a)
    assert img.mode == "I;16"
    out = preprocess(img)
    check_mnist_like(out)
    ref = preprocess(drawing(ink=255, paper=0)).image.astype(int)
    assert np.abs(out.image.astype(int) - ref).max() <= 2
    as_array = preprocess(np.asarray(drawing(ink=255, paper=0), dtype=np.uint16) * 160)  # a uint16 numpy array
    assert np.abs(as_array.image.astype(int) - ref).max() <= 2


@pytest.mark.parametrize("value", [0, 255])
def test_flat_image_is_refused(value):
    with pytest.raises(ValueError, match="empty"):
        preprocess(Image.new("L", (64, 64), value))


@pytest.mark.parametrize("img", [Image.new("L", (1, 1), 0), Image.new("L", (1, 1), 100),
                                 Image.new("RGBA", (1, 1), (0, 0, 0, 0)), Image.new("I;16", (1, 1), 7)])
def test_one_pixel_image(img):
    try:
        out = preprocess(img)
    except ValueError:
        return
    assert out.image.shape == (28, 28)


def test_huge_image_is_refused():
    with pytest.raises(ValueError, match="5000x10"):
        preprocess(Image.new("L", (5000, 10)))
