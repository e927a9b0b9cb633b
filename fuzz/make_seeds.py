#!/usr/bin/env python3
"""Writes small valid seed inputs for the fuzz targets (standard library only).

    fuzz/make_seeds.py DIR    # DIR/fuzz_zip/, DIR/fuzz_pickle/, ...
"""
import collections
import gzip
import io
import json
import os
import pickle
import struct
import sys
import zipfile


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def torchscript_like_pickle():
    # The shape of a TorchScript data.pkl: a storage persistent id and a tensor rebuild call,
    # written by hand (protocol 2) so that no torch is needed.
    def unicode(s):
        b = s.encode()
        return b"X" + struct.pack("<I", len(b)) + b
    return (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\nq\x00((" + unicode("storage") +
            b"ctorch\nFloatStorage\nq\x01" + unicode("0") + unicode("cpu") + b"K\x04tQK\x00(K\x02K\x02t"
            b"(K\x02K\x01t\x89ccollections\nOrderedDict\n)RtR.")


def main():
    out = sys.argv[1]
    value = {"a": [1, 2.5, "x", b"y", None, True], "t": (1, (2, 3)), "d": collections.OrderedDict()}
    for protocol in range(0, 6):
        write(f"{out}/fuzz_pickle/p{protocol}.pkl", pickle.dumps(value, protocol=protocol))
    write(f"{out}/fuzz_pickle/torchscript.pkl", torchscript_like_pickle())

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as z:
        z.writestr("m/version", "3\n")
        z.writestr("m/data.pkl", torchscript_like_pickle())
        z.writestr("m/data/0", struct.pack("<4f", 1, 2, 3, 4))
        z.writestr(zipfile.ZipInfo("m/code/__torch__.py"), "class M(Module):\n  pass\n",
                   compress_type=zipfile.ZIP_DEFLATED)
    write(f"{out}/fuzz_zip/archive.zip", buffer.getvalue())
    write(f"{out}/fuzz_model_format/archive.zip", buffer.getvalue())
    write(f"{out}/fuzz_model_format/flatbuffer.ptl", b"\x18\x00\x00\x00PTMF" + bytes(16))

    header = json.dumps({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
                         "__metadata__": {"arch": "x"}}).encode()
    write(f"{out}/fuzz_safetensors/w.safetensors",
          struct.pack("<Q", len(header)) + header + struct.pack("<4f", 1, 2, 3, 4))

    write(f"{out}/fuzz_model_format/w.safetensors",
          struct.pack("<Q", len(header)) + header + struct.pack("<4f", 1, 2, 3, 4))
    write(f"{out}/fuzz_operator_list/ops.txt",
          b"aten::conv2d\naten::relu_\nprim::Constant\nprim::Print\nquantized::linear\n")

    images = struct.pack(">IIII", 0x803, 2, 2, 2) + bytes(range(8))
    labels = struct.pack(">II", 0x801, 2) + bytes([1, 2])
    write(f"{out}/fuzz_idx/images.idx", images)
    write(f"{out}/fuzz_idx/images.idx.gz", gzip.compress(images))
    write(f"{out}/fuzz_idx/labels.idx", labels)

    npy_header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }"
    npy_header += b" " * (63 - (10 + len(npy_header)) % 64) + b"\n"
    write(f"{out}/fuzz_npy/x.npy",
          b"\x93NUMPY\x01\x00" + struct.pack("<H", len(npy_header)) + npy_header +
          struct.pack("<4f", 1, 2, 3, 4))


if __name__ == "__main__":
    main()
