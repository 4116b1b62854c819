#!/usr/bin/env python3
"""Writes the seed corpora of the .npz and IDX fuzz targets that NumPy and gzip write (the files
tapegrad writes come from tests/fuzz/make_seeds.cpp, run by scripts/fuzz). Committed output;
rerun after changing this file:  /usr/bin/python3 tests/fuzz/make_seeds.py"""
import gzip, io, os, struct
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
npz_dir, idx_dir = os.path.join(here, "corpus", "npz"), os.path.join(here, "corpus", "idx")
for d in (npz_dir, idx_dir):
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.startswith("numpy_") or f.startswith("idx_"):
            os.remove(os.path.join(d, f))

def npz(name, compressed=False, **arrays):
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    data = buf.getvalue()
    with open(os.path.join(npz_dir, "numpy_" + name + ".npz"), "wb") as f:
        f.write(data)
    return data

rng = np.random.default_rng(0)
full = npz("float32", **{"0.weight": rng.standard_normal((4, 3)).astype(np.float32),
                          "0.bias": np.zeros(4, np.float32), "2.weight": rng.standard_normal((2, 4)).astype(np.float32),
                          "2.bias": np.ones(2, np.float32)})
npz("float64_default", w=rng.standard_normal((2, 3)), b=np.arange(3.0))
npz("compressed", compressed=True, w=rng.standard_normal((3, 3)).astype(np.float32))
npz("big_endian", w=np.arange(6, dtype=">f8").reshape(2, 3), i=np.arange(3, dtype=">i8"))
npz("ints", i8=np.arange(4, dtype=np.int64), u8=np.arange(4, dtype=np.uint64), u4=np.arange(4, dtype=np.uint32),
    b=np.array([True, False]), i2=np.arange(3, dtype=np.int16))
npz("float16", h=np.arange(5, dtype=np.float16))
npz("scalar_empty", s=np.float32(3.5), e=np.zeros((0, 3), np.float32), z=np.zeros((2, 0, 1)))
npz("fortran", w=np.asfortranarray(rng.standard_normal((2, 3))))
npz("unsupported_dtypes", c=np.array([1 + 2j]), s=np.array(["text"]), o=np.array([b"xy"]))
npz("empty")
# truncated copies of a valid file: inside the data, the central directory, the end record
for cut in (20, len(full) // 2, len(full) - 30, len(full) - 1):
    with open(os.path.join(npz_dir, "numpy_truncated_%d.npz" % cut), "wb") as f:
        f.write(full[:cut])

def idx(name, array, gz=False, cut=None):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if cut is not None:
        data = data[:cut]
    if gz:
        data = gzip.compress(data, mtime=0)
    with open(os.path.join(idx_dir, "idx_" + name + (".gz" if gz else "")), "wb") as f:
        f.write(data)

images = rng.integers(0, 256, (3, 4, 4))
labels = rng.integers(0, 10, 5)
for gz in (False, True):
    idx("images", images, gz)
    idx("labels", labels, gz)
    idx("empty", np.zeros((0, 28, 28)), gz)
    idx("truncated_data", images, gz, cut=30)
    idx("truncated_header", images, gz, cut=9)
with open(os.path.join(idx_dir, "idx_trailing"), "wb") as f:
    f.write(bytes([0, 0, 8, 1, 0, 0, 0, 2, 7, 8, 9]))
with open(os.path.join(idx_dir, "idx_int32_type"), "wb") as f:
    f.write(bytes([0, 0, 0x0c, 1, 0, 0, 0, 1, 0, 0, 0, 5]))
good = gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 4, 1, 2, 3, 4]), mtime=0)
with open(os.path.join(idx_dir, "idx_gzip_cut.gz"), "wb") as f:
    f.write(good[:-6])
bad_crc = bytearray(good)
bad_crc[-6] ^= 0xff
with open(os.path.join(idx_dir, "idx_gzip_bad_crc.gz"), "wb") as f:
    f.write(bytes(bad_crc))
