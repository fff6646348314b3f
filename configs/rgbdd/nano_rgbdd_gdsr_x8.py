# RGB-D-D guided depth super-resolution at x8 (docs/real_rgbd.md): the folder's recipe as it is
# (_base_/rgbdd_gdsr_data.py reduces the depth by 8, a 64x48 sensor for the 512x384 frames).
_base_ = ['./_base_/nano_gdsr.py']
