"""Helpers shared by test modules. A test module imports helpers from here (or from the tests'
`_*.py` helper modules, or gets them as conftest fixtures), never from another test module:
importing a test module runs its module-level code a second time and makes its tests depend on
another file's private names (tests/test_test_imports.py checks this)."""
