"""Writes the small torch.save files in test/fixtures/pytorch/ that test/interop_pt.test.ts reads
without PyTorch installed (run with python3-torch to regenerate; the values are exact and listed
in the test):
  dtypes_views.pt  every storage dtype, a transposed (non-contiguous) f64 tensor, views with a
                   storage offset and a stride, and two tensors sharing one storage
  checkpoint.pt    a training-script checkpoint: { 'model': nn.LSTM(2, 3).state_dict(), 'epoch': 3 }
  whole_module.pt  torch.save of a module object (refused: it pickles torch.nn.modules...Linear)
  legacy.pt        the pre-1.6 format (_use_new_zipfile_serialization=False; refused with a hint)
"""
import os
import sys
from collections import OrderedDict

import torch

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', 'fixtures', 'pytorch')
base = torch.arange(10, dtype=torch.float32)
sd = OrderedDict()
sd['f64_transposed'] = torch.arange(6, dtype=torch.float64).reshape(2, 3).t()
sd['f16'] = torch.tensor([1.5, -2.25, 65504.0], dtype=torch.float16)
sd['bf16'] = torch.tensor([1.5, -2.25], dtype=torch.bfloat16)
sd['i64'] = torch.tensor([7, -3], dtype=torch.int64)
sd['i32'] = torch.tensor([[1, 2], [3, 4]], dtype=torch.int32)
sd['u8'] = torch.tensor([0, 255], dtype=torch.uint8)
sd['bool'] = torch.tensor([True, False])
sd['offset_view'] = base[1:4]
sd['strided_view'] = base[2:9:3]
sd['shared_a'] = base[:2]
sd['scalar'] = torch.tensor(2.5)
torch.save(sd, os.path.join(out, 'dtypes_views.pt'))
torch.manual_seed(0)
torch.save({'model': torch.nn.LSTM(2, 3).state_dict(), 'epoch': 3}, os.path.join(out, 'checkpoint.pt'))
torch.save(torch.nn.Linear(2, 1), os.path.join(out, 'whole_module.pt'))
torch.save({'w': torch.zeros(2)}, os.path.join(out, 'legacy.pt'), _use_new_zipfile_serialization=False)
