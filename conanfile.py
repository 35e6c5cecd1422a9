# Conan 2 recipe for memkv, in the conan-center header-only style:
#   conan create . --build=missing          # package the checkout and run test_package/
#   requires = "memkv/0.1.0"                # then, in a consumer: find_package(memkv CONFIG)
import os

from conan import ConanFile
from conan.tools.build import check_min_cppstd
from conan.tools.files import copy
from conan.tools.layout import basic_layout

required_conan_version = ">=2.0"


class MemkvConan(ConanFile):
    name = "memkv"
    version = "0.1.0"
    description = "Header-only C++20 ordered string-key maps with minimal bytes per key"
    license = "MIT"
    topics = ("trie", "adaptive-radix-tree", "fst", "ordered-map", "string-keys", "header-only")
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    exports_sources = "include/*", "LICENSE"
    no_copy_source = True

    def layout(self):
        basic_layout(self, src_folder=".")

    def requirements(self):
        self.requires("xsimd/8.1.0")

    def package_id(self):
        self.info.clear()

    def validate(self):
        check_min_cppstd(self, 20)

    def build(self):
        pass

    def package(self):
        copy(self, "LICENSE", src=self.source_folder, dst=os.path.join(self.package_folder, "licenses"))
        copy(self, "*.hpp", src=os.path.join(self.source_folder, "include"),
             dst=os.path.join(self.package_folder, "include"))

    def package_info(self):
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        self.cpp_info.set_property("cmake_file_name", "memkv")
        self.cpp_info.set_property("cmake_target_name", "memkv::memkv")
        self.cpp_info.set_property("pkg_config_name", "memkv")
