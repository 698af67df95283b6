"""Print the virtual environment's installed set as JSON (run inside the image by envkit).

envkit reads the result back as the notebook's lock: versions from installed metadata,
hashes from the index (hashes.txt, written next to this script) when it gave them.
"""

import json
import os
import platform
import re
import sys
import sysconfig
from importlib import metadata

HERE = os.path.dirname(os.path.abspath(__file__))


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def hashes():
    found = {}
    try:
        with open(os.path.join(HERE, "hashes.txt")) as fh:
            text = fh.read().replace("\\\n", " ")
    except OSError:
        return found
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "==" not in line:
            continue
        name, _, version = line.split(" ", 1)[0].partition("==")
        name = canonical(name.split("[", 1)[0].strip())
        found[(name, version.split(";", 1)[0].strip())] = sorted(re.findall(r"--hash=(sha256:[0-9a-f]+)", line))
    return found


def main():
    known = hashes()
    packages = {}
    for dist in metadata.distributions():
        name = canonical(dist.metadata["Name"] or "")
        if not name or name in packages:
            continue
        entry = {"name": name, "version": dist.version}
        direct = dist.read_text("direct_url.json")
        if direct:
            entry["url"] = json.loads(direct).get("url", "")
        if known.get((name, dist.version)):
            entry["hashes"] = known[(name, dist.version)]
        packages[name] = entry
    json.dump({
        "python": platform.python_version(),
        "platform": sysconfig.get_platform(),
        "prefix": sys.prefix,
        "packages": [packages[k] for k in sorted(packages)],
    }, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


main()
