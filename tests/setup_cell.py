# Set-up (the same in every lesson): on Colab, fetch the course and install its helpers without touching
# Colab's own TensorFlow and Keras; anywhere else it only imports TensorFlow quietly.
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if "google.colab" in sys.modules:
    COURSE_DIR = "/content/gans-and-cnns"
    if not os.path.isdir(COURSE_DIR):
        subprocess.run(["git", "clone", "--quiet", "--depth", "1",
                        "https://github.com/image-synthesis-course/gans-and-cnns", COURSE_DIR], check=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "-e", COURSE_DIR], check=True)
    sys.path.insert(0, COURSE_DIR)

from course_utils.device import quiet_tensorflow_startup

tf = quiet_tensorflow_startup()  # import TensorFlow once, without its C++ start-up log lines
