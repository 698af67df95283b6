"""The grammars of envkit.validate and the template filters, one by one."""

from __future__ import annotations

import pytest

from envkit import validate as v
from envkit.errors import UsageError
from envkit.spec import EnvkitMetadata, EnvSpec, Lock, Pin, Requirement

NEWLINE_TRICKS = ["a\nb", "a\rb", "a\u2028b", "a\u0085b", "a\x00b", "a\x1b[31mb"]


@pytest.mark.parametrize("good", ["six", "scikit-learn", "zope.interface", "A_b-c.d", "x"])
def test_distribution_names(good):
    assert v.distribution_name(good, "f") == good


@pytest.mark.parametrize("bad", ["", "-six", "six-", "six;x", "six pkg", "$(id)", "a`b`", *NEWLINE_TRICKS, 3, None])
def test_distribution_names_refused(bad):
    with pytest.raises(v.Invalid, match="^f: "):
        v.distribution_name(bad, "f")


@pytest.mark.parametrize("good", ["1", "2.0.0", "1.0rc1", "1!2.0", "1.0.post1.dev3", "1.0+local.7"])
def test_versions(good):
    assert v.version(good, "f") == good


@pytest.mark.parametrize("bad", ["", " 1.0", "1.0 ", "1.0\n", "1.0; touch /x", "1.0 --index-url x", "latest",
                                 "$(id)", 1.0])
def test_versions_refused(bad):
    with pytest.raises(v.Invalid):
        v.version(bad, "f")


@pytest.mark.parametrize("good", ["", ">=2", ">=2,<3", "==1.*", "~=1.4", "!=1.5"])
def test_specifiers(good):
    assert v.specifier(good, "f") == good


@pytest.mark.parametrize("bad", [">=1\n--index-url http://x", ">=1;rm", "latest", ">=1 #x", "$(id)"])
def test_specifiers_refused(bad):
    with pytest.raises(v.Invalid):
        v.specifier(bad, "f")


@pytest.mark.parametrize("good", ["pandas>=2", "xarray[io]; python_version > '3.9'", "six",
                                  "pkg @ https://example.invalid/pkg-1.0.tar.gz", "pkg @ git+https://h.invalid/r@v1"])
def test_requirements(good):
    assert v.requirement(good, "f") == good


@pytest.mark.parametrize("bad", ["--index-url http://x", "-r other.txt", "-e .", "six\nrequests", "six\n--index-url x",
                                 "six; os.system('x')", "six two", "pkg @ http://h.invalid/${PIP_INDEX_URL}",
                                 "pkg @ ftp://h.invalid/p.tgz", "pkg @ javascript:alert(1)", ""])
def test_requirements_refused(bad):
    with pytest.raises(v.Invalid):
        v.requirement(bad, "f")


@pytest.mark.parametrize("good", ["3.11", "3.9", "3.100", "10.0"])
def test_python_versions(good):
    assert v.python_version(good, "f") == good


@pytest.mark.parametrize("bad", ["3", "3.11.2", "3.x", "3.11-slim\nRUN x", " 3.11", "3.11 ", "३.११", 3.11])
def test_python_versions_refused(bad):
    with pytest.raises(v.Invalid):
        v.python_version(bad, "f")


def test_hashes():
    assert v.sha256("sha256:" + "ab" * 32, "f")
    for bad in ["sha256:" + "a" * 63, "sha256:" + "A" * 64, "md5:" + "a" * 32, "sha256:" + "a" * 64 + "\n", "a" * 64]:
        with pytest.raises(v.Invalid):
            v.sha256(bad, "f")


@pytest.mark.parametrize("good", ["libgomp1", "g++", "libstdc++6", "python3.11-venv", "r", "0ad"])
def test_debian_packages(good):
    assert v.debian_package(good, "f") == good


@pytest.mark.parametrize("bad", ["Git", "-y", "--allow-unauthenticated", "git;id", "git curl", "git\nRUN x", "git=1",
                                 "$(id)", ".hidden", ""])
def test_debian_packages_refused(bad):
    with pytest.raises(v.Invalid):
        v.debian_package(bad, "f")


@pytest.mark.parametrize("good", [
    "python:3.11-slim", "ubuntu", "envkit-test-base:bookworm", "localhost:5000/team/img:v1",
    "registry.example.invalid/a/b_c/d__e/f-g:1.0", "quay.io/jupyter/base-notebook@sha256:" + "a" * 64,
    "img:tag@sha256:" + "b" * 64, "sha256:" + "c" * 64, "[::1]:5000/x:y", "a" * 200,
])
def test_image_references(good):
    assert v.image_reference(good, "f") == good


@pytest.mark.parametrize("bad", [
    "python:3.11-slim\nRUN touch /PWNED_BASE", "python:3.11-slim AS x", "Python:3", "img:", "img::t", "img:-t",
    "img@sha256:abc", "img:t;id", "$(id)", "/img", "img/", "img:" + "t" * 129, "a" * 256, "", "img\tx",
])
def test_image_references_refused(bad):
    with pytest.raises(v.Invalid):
        v.image_reference(bad, "f")


def test_urls():
    assert v.url("https://h.invalid/p.whl#sha256=" + "a" * 64, "f")
    assert v.url("file:///home/u/pkg", "f")
    for bad in ["http://h.invalid/a b", "http://h.invalid/$HOME", "ssh://h.invalid/x", "https://h.invalid/x\n-e y",
                "h.invalid/x", "https://h.invalid/`id`"]:
        with pytest.raises(v.Invalid):
            v.url(bad, "f")


def test_json_shapes_name_the_kind():
    with pytest.raises(v.Invalid, match="^x: expected an object, found a list$"):
        v.obj([], "x")
    with pytest.raises(v.Invalid, match=r"^x\.evil: unknown field$"):
        v.obj({"evil": 1}, "x", allowed=("a",))
    with pytest.raises(v.Invalid, match="expected a whole number, found true or false"):
        v.integer(True, "n")
    with pytest.raises(v.Invalid, match="more than the"):
        v.text("x" * (v.MAX_TEXT + 1), "t")


def test_within_builds_the_field_path():
    with pytest.raises(v.Invalid, match=r"^spec\.requirements\[3\]\.name: "):
        with v.within("spec"), v.within("requirements[3]"):
            v.distribution_name("a b", "name")
    with pytest.raises(v.Invalid, match=r"^spec\.requirements\[3\]: "):
        with v.within("spec.requirements"):
            raise v.Invalid("[3]", "x")


# ---- filters ----------------------------------------------------------------------------------

def test_dockerfile_word_refuses_what_would_split_or_expand():
    assert v.dockerfile_word("python:3.11-slim@sha256:" + "a" * 64) .startswith("python")
    assert v.dockerfile_word(1000) == "1000"
    for bad in ["a b", "a\nRUN x", "a;b", "$(id)", "`id`", "a|b", "a&b", 'a"b', "a'b", "", "a\\b", "${X}"]:
        with pytest.raises(UsageError, match="^base_image: "):
            v.dockerfile_word(bad, "base_image")
    assert v.dockerfile_words(["git", "g++"], "system_packages") == "git g++"
    with pytest.raises(UsageError, match=r"^system_packages\[1\]: "):
        v.dockerfile_words(["git", "x y"], "system_packages")


@pytest.mark.parametrize("trick", NEWLINE_TRICKS + ["a\u2029b", "a\u200eb", "a\ufeffb"])
def test_comment_keeps_a_value_on_its_line(trick):
    out = v.comment(trick)
    assert out.splitlines() == [out] and out.isprintable() and out.startswith("a") and out.endswith("b")


def test_comment_leaves_ordinary_text_alone():
    assert v.comment("~/work/Analyse été (v2).ipynb") == "~/work/Analyse été (v2).ipynb"


def test_json_filter_is_one_dockerfile_string():
    out = v.dockerfile_json('a"b\nc$HOME\u2028\\')
    assert out == '"a\\"b\\nc\\$HOME\\u2028\\\\"' and "\n" not in out


def test_run_command_must_stay_one_instruction():
    assert v.run_command("uv pip sync x \\\n && echo ok") == "uv pip sync x \\\n && echo ok"
    for bad in ["a\nFROM x", "a \\\nb\nRUN c", "a \\", "", "a\rb"]:
        with pytest.raises(UsageError, match="^base_layer: "):
            v.run_command(bad, "base_layer")


def test_requirement_filter_for_the_shell():
    assert v.requirement_word("jupyterlab>=4,<5", "jupyterlab") == "jupyterlab>=4,<5"
    for bad in ['jupyterlab" ; id ; "', "jupyterlab\nRUN x", "--index-url=x"]:
        with pytest.raises(UsageError, match="^jupyterlab: "):
            v.requirement_word(bad, "jupyterlab")


# ---- the spec checks itself -------------------------------------------------------------------

def test_constructors_refuse_values_that_would_inject():
    with pytest.raises(v.Invalid, match="^base_image: "):
        EnvSpec(python="3.11", base_image="python:3.11-slim\nRUN touch /PWNED_BASE")
    with pytest.raises(v.Invalid, match="^python: "):
        EnvSpec(python="3.11-slim\nRUN id")
    with pytest.raises(v.Invalid, match=r"^system_packages\[0\]: "):
        EnvSpec(python="3.11", system_packages=("git;id",))
    with pytest.raises(v.Invalid, match="^specifier: "):
        Requirement(name="six", specifier=">=1\n--index-url http://h.invalid")
    with pytest.raises(v.Invalid, match="^version: "):
        Pin(name="six", version="1.0\n--index-url http://h.invalid")
    with pytest.raises(v.Invalid, match="^name: "):
        Pin(name="six\n-e .", version="1.0")


def test_from_json_names_the_field_path():
    good = EnvkitMetadata(spec=EnvSpec(python="3.11", requirements=(Requirement.parse("six"),)))
    data = good.to_json()
    data["spec"]["requirements"] = [{"name": "six"}, {"name": "idna", "marker": "os.system('x')"}]
    with pytest.raises(v.Invalid, match=r"^metadata\.envkit\.spec\.requirements\[1\]\.marker: "):
        EnvkitMetadata.from_json(data, "metadata.envkit")
    lock = Lock(spec_digest=good.spec.digest(), python="3.11.2", packages=(Pin(name="six", version="1.0"),)).to_json()
    lock["packages"][0]["hashes"] = ["sha256:xyz"]
    with pytest.raises(v.Invalid, match=r"^lock\.packages\[0\]\.hashes\[0\]: "):
        Lock.from_json(lock)
    assert EnvkitMetadata.from_json(good.to_json()) == good


def test_huge_records_are_refused_by_size_not_by_time():
    with pytest.raises(v.Invalid, match=r"^spec\.requirements: 100001 items, more than"):
        EnvSpec.from_json({"python": "3.11", "requirements": [{"name": "six"}] * 100_001})
    with pytest.raises(v.Invalid, match=r"^spec\.base_image: 1000000 characters, more than"):
        EnvSpec.from_json({"python": "3.11", "base_image": "a" * 1_000_000})


def test_notebook_python_version_is_digits_only():
    from envkit.notebook import Notebook

    def python(version):
        return Notebook(path="nb.ipynb", raw={"metadata": {"language_info": {"name": "python", "version": version}}},
                        nbformat=4).python_version()

    assert python("3.11.2") == "3.11"
    assert python("3.x\nRUN touch /PWNED.1") is None and python("3.1१.0") is None


@pytest.mark.parametrize("c", [chr(i) for i in range(0x80)] + ["\u2028", "\u202e", "\u00a0", "\u200b", "é"])
def test_text_refuses_exactly_the_unsafe_characters(c: str) -> None:
    """ASCII takes a fast path in ``v.text``; every character still gets the same answer."""
    value = f"a{c}b"
    if c != "\t" and v.unsafe_char(c):
        with pytest.raises(v.Invalid, match="control character"):
            v.text(value, "t")
    else:
        assert v.text(value, "t") == value
