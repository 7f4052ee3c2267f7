"""Maps the root folders ``simulator/`` and ``gateway/`` to the import names ``lynsms.simulator`` and
``lynsms.gateway``, so installing LynSMS Local never shadows a host project's own ``simulator`` or
``gateway`` package. Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

FOLDERS = {"lynsms.simulator": "simulator", "lynsms.gateway": "gateway"}

setup(
    package_dir={"lynsms": "lynsms", **FOLDERS},
    packages=["lynsms"]
    + [f"lynsms.{name}" for name in find_packages(include=[f"{folder}*" for folder in FOLDERS.values()])],
)
