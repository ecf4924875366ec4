"""Write an MJCF without its mesh assets and mesh geoms (visual-only meshes; collision stays).

Used once to ship the Unitree G1 model without its 19 MB of STL files:
    python scripts/strip_mjcf_meshes.py UPSTREAM/g1.xml src/deepmimic_mocap/deepmimic_mocap/data/robots/unitree_g1/g1.xml
Every ``<mesh>`` asset and every geom that names a ``mesh`` is removed, as is the compiler's
``meshdir``; nothing else changes (bodies, inertials, joints, collision geoms, contacts, sensors).
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET


def strip(src: str, dst: str) -> None:
    tree = ET.parse(src)
    root = tree.getroot()
    for parent in root.iter():
        for child in list(parent):
            if child.tag == "mesh" or (child.tag == "geom" and "mesh" in child.attrib):
                parent.remove(child)
    compiler = root.find("compiler")
    if compiler is not None:
        compiler.attrib.pop("meshdir", None)
    ET.indent(tree)
    note = ET.Comment(" Unitree G1 29-DoF from the mjlab 1.6.0 wheel (Apache-2.0, LICENSE.mjlab), visual meshes "
                      "removed by scripts/strip_mjcf_meshes.py; see SOURCES.md. ")
    root.insert(0, note)
    tree.write(dst, encoding="unicode")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: strip_mjcf_meshes.py IN.xml OUT.xml")
    strip(sys.argv[1], sys.argv[2])
