"""imref: a teaching and reference implementation of an instant-messaging backend.

One subpackage per chapter: ``imref.balancing``, ``imref.callbacks``,
``imref.notify``, ``imref.auth`` and ``imref.storage``, plus
``imref.workload`` for the recorded chat workload that the chapters run on.
A chapter uses another only through the names that subpackage exports.
"""

import logging

from imref.errors import ImrefError

__all__ = ["ImrefError", "__version__"]
__version__ = "0.1.0"

# Library code logs under "imref.<component>"; the application that imports
# imref decides where the records go.
logging.getLogger("imref").addHandler(logging.NullHandler())
