"""ament_python package of the perception ROS 2 node (built with colcon, see README.md)."""
from glob import glob

from setuptools import setup

PACKAGE = 'perception_ros'

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=[PACKAGE],
    data_files=[
        ('share/ament_index/resource_index/packages', [f'resource/{PACKAGE}']),
        (f'share/{PACKAGE}', ['package.xml', 'README.md']),
        (f'share/{PACKAGE}/launch', glob('launch/*.launch.py')),
        (f'share/{PACKAGE}/config', glob('config/*.yaml')),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='perception maintainers',
    maintainer_email='perception@example.org',
    description='ROS 2 lifecycle node for RGB + thermal + depth multi-task perception',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'perception_node = perception_ros.perception_node:main',
        ],
    },
)
